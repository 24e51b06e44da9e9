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

package conventions

import (
	"fmt"
	"strconv"
	"strings"
)

// Sampler is the OTEL_TRACES_SAMPLER kntrace sets on Knative's components
// and on applications: it continues a sampled caller (Knative's own sampler
// does not) and samples new traces at a ratio (OTEL_TRACES_SAMPLER_ARG).
const Sampler = "parentbased_traceidratio"

// SamplerEnv is the one rule for the sampler environment kntrace adds to a
// process: OTEL_TRACES_SAMPLER=parentbased_traceidratio and
// OTEL_TRACES_SAMPLER_ARG=rate (clamped to [0, 1]). An operator's explicit
// setting wins: nothing is returned when OTEL_TRACES_SAMPLER is already set,
// and an OTEL_TRACES_SAMPLER_ARG already set is kept (the returned map does
// not hold it). Knative builds its sampler from these variables whenever
// OTEL_TRACES_SAMPLER is set, so the activator and the queue-proxy set them
// before Knative's main runs.
func SamplerEnv(rate float64, getenv func(string) string) map[string]string {
	if getenv(EnvSampler) != "" {
		return nil
	}
	env := map[string]string{EnvSampler: Sampler}
	if getenv(EnvSamplerArg) == "" {
		env[EnvSamplerArg] = FormatRate(min(max(rate, 0), 1))
	}
	return env
}

// FormatRate renders a sampling rate the way OTEL_TRACES_SAMPLER_ARG and
// Knative's ConfigMaps expect it: the shortest decimal that round-trips.
func FormatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// ParseRate reads a sampling rate: a number in [0, 1]. The error says what
// is accepted; callers add the key or annotation it came from.
func ParseRate(v string) (float64, error) {
	r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(r >= 0 && r <= 1) {
		return 0, fmt.Errorf("%q: want a number in [0, 1], e.g. 0.1 (10%% of new traces) or 1 (all)", v)
	}
	return r, nil
}
