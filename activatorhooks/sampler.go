/*
Copyright 2026 The kntrace Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package activatorhooks

import (
	"strconv"
)

// Environment variables of the OpenTelemetry SDK's sampler.
const (
	EnvSampler    = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg = "OTEL_TRACES_SAMPLER_ARG"
	// ParentBasedRatio is the OTEL_TRACES_SAMPLER value that respects the
	// caller's sampling decision and samples new traces at a ratio.
	ParentBasedRatio = "parentbased_traceidratio"
)

// SamplerEnv returns the environment to set before Knative builds its
// tracer provider so that sampling is parent-based at rate (the
// tracing-sampling-rate of config-observability): OTEL_TRACES_SAMPLER=
// parentbased_traceidratio and OTEL_TRACES_SAMPLER_ARG=rate. Knative leaves
// the sampler to the SDK when OTEL_TRACES_SAMPLER is set. Variables already
// set win: nothing is returned when OTEL_TRACES_SAMPLER is set, and an
// OTEL_TRACES_SAMPLER_ARG of its own is kept.
func SamplerEnv(rate float64, getenv func(string) string) map[string]string {
	if getenv(EnvSampler) != "" {
		return nil
	}
	env := map[string]string{EnvSampler: ParentBasedRatio}
	if getenv(EnvSamplerArg) == "" {
		env[EnvSamplerArg] = strconv.FormatFloat(min(max(rate, 0), 1), 'g', -1, 64)
	}
	return env
}
