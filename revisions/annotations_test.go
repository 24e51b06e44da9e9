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

package revisions_test

import (
	"strings"
	"testing"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
)

func TestParseSamplingRate(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    float64
		wantErr bool
	}{
		{name: "zero", in: "0", want: 0},
		{name: "one", in: "1", want: 1},
		{name: "ratio", in: "0.25", want: 0.25},
		{name: "blanks", in: " 0.5 ", want: 0.5},
		{name: "exponent", in: "1e-2", want: 0.01},
		{name: "above one", in: "1.5", wantErr: true},
		{name: "negative", in: "-0.1", wantErr: true},
		{name: "percent", in: "10%", wantErr: true},
		{name: "NaN", in: "NaN", wantErr: true},
		{name: "Inf", in: "+Inf", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := revisions.ParseSamplingRate(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSamplingRate(%q) = %v, want an error", tt.in, got)
				}
				for _, want := range []string{conventions.SamplingRateAnnotation, "[0, 1]"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err.Error(), want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSamplingRate(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseSamplingRate(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePropagators(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "w3c", in: "tracecontext,baggage", want: "tracecontext,baggage"},
		{name: "case and blanks", in: " B3 , TraceContext ", want: "b3,tracecontext"},
		{name: "duplicates", in: "b3,b3,jaeger", want: "b3,jaeger"},
		{name: "none alone", in: "none", want: "none"},
		{name: "none among others", in: "none,b3multi", want: "b3multi"},
		{name: "unknown", in: "tracecontext,zipkin", wantErr: true},
		{name: "xray", in: "xray", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := revisions.ParsePropagators(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParsePropagators(%q) = %q, want an error", tt.in, got)
				}
				for _, want := range []string{conventions.PropagatorsAnnotation, "tracecontext, baggage, b3, b3multi, jaeger"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err.Error(), want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePropagators(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParsePropagators(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseInject(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    bool
		wantErr bool
	}{
		{name: "true", in: "true", want: true},
		{name: "TRUE", in: "TRUE", want: true},
		{name: "false", in: "false", want: false},
		{name: "enabled is not a bool", in: "enabled", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := revisions.ParseInject(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseInject(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), conventions.InjectAnnotation) {
				t.Errorf("error %q does not name %s", err.Error(), conventions.InjectAnnotation)
			}
			if got != tt.want {
				t.Errorf("ParseInject(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
