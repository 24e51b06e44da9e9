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

package sampling

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kntrace/kntrace/conventions"
)

// FromEnv builds the sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// name, as the OpenTelemetry specification defines them (unset:
// parentbased_always_on). An invalid value is an error naming the variable
// and what it accepts, with the default in its place.
func FromEnv(env func(string) string) (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(env(conventions.EnvSampler)))
	argStr := strings.TrimSpace(env(conventions.EnvSamplerArg))
	ratio := 1.0
	var err error
	if argStr != "" && strings.HasSuffix(name, "traceidratio") {
		ratio, err = strconv.ParseFloat(argStr, 64)
		if err != nil || ratio < 0 || ratio > 1 {
			err = fmt.Errorf("%s=%q: want a number from 0 to 1; using 1", conventions.EnvSamplerArg, argStr)
			ratio = 1
		}
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), err
	case "always_on":
		return sdktrace.AlwaysSample(), err
	case "always_off":
		return sdktrace.NeverSample(), err
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), err
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), err
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), err
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample()), errors.Join(err, fmt.Errorf(
		"%s=%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio; using parentbased_always_on",
		conventions.EnvSampler, name))
}
