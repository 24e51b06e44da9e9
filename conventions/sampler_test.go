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
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSamplerEnv(t *testing.T) {
	tests := []struct {
		name string
		rate float64
		env  map[string]string
		want map[string]string
	}{{
		name: "nothing set: parent-based at the rate",
		rate: 0.25,
		want: map[string]string{EnvSampler: Sampler, EnvSamplerArg: "0.25"},
	}, {
		name: "rate clamped to [0, 1]",
		rate: 7,
		want: map[string]string{EnvSampler: Sampler, EnvSamplerArg: "1"},
	}, {
		name: "negative rate clamped to 0",
		rate: -1,
		want: map[string]string{EnvSampler: Sampler, EnvSamplerArg: "0"},
	}, {
		name: "an operator's sampler wins: nothing is set",
		rate: 0.5,
		env:  map[string]string{EnvSampler: "always_on"},
	}, {
		name: "an operator's ratio wins: only the sampler is set",
		rate: 0.5,
		env:  map[string]string{EnvSamplerArg: "0.01"},
		want: map[string]string{EnvSampler: Sampler},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SamplerEnv(tc.rate, func(k string) string { return tc.env[k] })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SamplerEnv (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for _, v := range []string{"0", "1", " 0.5 ", "1e-3"} {
		if _, err := ParseRate(v); err != nil {
			t.Errorf("ParseRate(%q): %v", v, err)
		}
	}
	for _, v := range []string{"", "1.5", "-0.1", "NaN", "ten"} {
		if _, err := ParseRate(v); err == nil {
			t.Errorf("ParseRate(%q): no error, want one", v)
		}
	}
}
