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
	"strings"
	"testing"

	"github.com/kntrace/kntrace/conventions"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		sampler, arg string
		want         string
		wantErr      string
	}{
		{want: "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"},
		{sampler: "always_off", want: "AlwaysOffSampler"},
		{sampler: "traceidratio", arg: "0.25", want: "TraceIDRatioBased{0.25}"},
		{sampler: "parentbased_traceidratio", arg: "0.5", want: "ParentBased{root:TraceIDRatioBased{0.5},"},
		{sampler: "traceidratio", arg: "2", want: "TraceIDRatioBased{1}", wantErr: conventions.EnvSamplerArg},
		{sampler: "jaeger_remote", want: "ParentBased{root:AlwaysOnSampler", wantErr: conventions.EnvSampler},
	}
	for _, tt := range tests {
		t.Run(tt.sampler+"/"+tt.arg, func(t *testing.T) {
			env := map[string]string{conventions.EnvSampler: tt.sampler, conventions.EnvSamplerArg: tt.arg}
			s, err := FromEnv(func(k string) string { return env[k] })
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error = %v, want one naming %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(s.Description(), tt.want) {
				t.Errorf("sampler %s, want %s", s.Description(), tt.want)
			}
		})
	}
}
