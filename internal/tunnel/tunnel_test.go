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

package tunnel

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want Target
		ok   bool
	}{
		{in: "kntrace-system/jaeger:query-grpc", want: Target{"kntrace-system", "jaeger", "query-grpc"}, ok: true},
		{in: "otel-collector.kntrace-system.svc.cluster.local:4317", want: Target{"kntrace-system", "otel-collector", "4317"}, ok: true},
		{in: "http://otel-collector.kntrace-system.svc.cluster.local:4318/v1/traces", want: Target{"kntrace-system", "otel-collector", "4318"}, ok: true},
		{in: "otel-collector.kntrace-system.svc:4317", want: Target{"kntrace-system", "otel-collector", "4317"}, ok: true},
		{in: "otel-collector.kntrace-system:4317", want: Target{"kntrace-system", "otel-collector", "4317"}, ok: true},
		{in: "otel-collector:4317"},
		{in: "collector.example.com:4317"},
		{in: "otel-collector.kntrace-system.svc.example.org:4317"},
		{in: "127.0.0.1:4317"},
		{in: "kntrace-system/jaeger"},
		{in: "/jaeger:16685"},
		{in: "[::1]:4317"},
		{in: ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := ParseTarget(tc.in)
			if ok != tc.ok {
				t.Fatalf("ParseTarget(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseTarget(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// FuzzParseTarget: any input either names a Service with every part set, or
// nothing, and never panics.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"ns/svc:port", "svc.ns.svc.cluster.local:4317", "http://a.b:1/x", "::", "a.b.svc.:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseTarget(s)
		if ok && (got.Namespace == "" || got.Service == "" || got.Port == "") {
			t.Errorf("ParseTarget(%q) = %+v, ok with an empty part", s, got)
		}
		if !ok && got != (Target{}) {
			t.Errorf("ParseTarget(%q) = %+v, not ok but not empty", s, got)
		}
	})
}
