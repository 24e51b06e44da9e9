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
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kntrace/kntrace/propagation"
)

func TestPropagatorFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		want    []propagation.Format
		wantErr string
	}{
		{"unset", "", []propagation.Format{propagation.TraceContext, propagation.Baggage}, ""},
		{"b3 and W3C", "b3,tracecontext", []propagation.Format{propagation.B3, propagation.TraceContext}, ""},
		{"none", "none", []propagation.Format{}, ""},
		{"unknown", "zipkin", nil, `OTEL_PROPAGATORS: unknown propagator "zipkin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_PROPAGATORS", tt.env)
			p, err := propagatorFromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p.InjectFormats(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("InjectFormats (-want +got):\n%s", diff)
			}
			// Whatever it writes, it reads every format, W3C first.
			if diff := cmp.Diff(propagation.New().ExtractOrder(), p.ExtractOrder()); diff != "" {
				t.Errorf("ExtractOrder (-want +got):\n%s", diff)
			}
		})
	}
}
