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

package activator

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSetSamplerEnv: the activator makes its sampling parent-based at
// config-observability's rate, and what the operator set wins.
func TestSetSamplerEnv(t *testing.T) {
	tests := []struct {
		name string
		rate float64
		env  map[string]string
		want map[string]string
	}{
		{name: "rate from config-observability", rate: 0.25,
			want: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"}},
		{name: "rate 0 still follows a sampled parent", rate: 0,
			want: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}},
		{name: "a sampler set by the operator wins", rate: 0.5,
			env:  map[string]string{"OTEL_TRACES_SAMPLER": "always_on"},
			want: map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}},
		{name: "an argument set by the operator is kept", rate: 0.5,
			env:  map[string]string{"OTEL_TRACES_SAMPLER_ARG": "0.1"},
			want: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			err := setSamplerEnv(tt.rate, func(k string) string { return env[k] }, func(k, v string) error { env[k] = v; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, env); diff != "" {
				t.Errorf("environment after setSamplerEnv (-want +got):\n%s", diff)
			}
		})
	}
}
