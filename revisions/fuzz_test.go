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
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
)

// FuzzParseSamplingRate: an accepted value is a number in [0, 1] that
// formats back to an accepted value.
func FuzzParseSamplingRate(f *testing.F) {
	for _, s := range []string{"0", "1", "0.1", " 0.5", "1e-3", "1.0000001", "-0", "NaN", "Inf", "0x1p-2", "", "½"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := revisions.ParseSamplingRate(s)
		if err != nil {
			if !strings.Contains(err.Error(), conventions.SamplingRateAnnotation) {
				t.Fatalf("error %q does not name the annotation", err)
			}
			return
		}
		if math.IsNaN(r) || r < 0 || r > 1 {
			t.Fatalf("ParseSamplingRate(%q) = %v, outside [0, 1]", s, r)
		}
		if r2, err := revisions.ParseSamplingRate(conventions.FormatRate(r)); err != nil || r2 != r {
			t.Fatalf("FormatRate(%v) = %q does not round-trip: %v, %v", r, conventions.FormatRate(r), r2, err)
		}
	})
}

// FuzzParsePropagators: an accepted list normalises to a fixed point.
func FuzzParsePropagators(f *testing.F) {
	for _, s := range []string{"tracecontext,baggage", "B3 ,b3multi", "none", "none,jaeger", ",,", "xray", "tracecontext,\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := revisions.ParsePropagators(s)
		if err != nil {
			if !strings.Contains(err.Error(), conventions.PropagatorsAnnotation) {
				t.Fatalf("error %q does not name the annotation", err)
			}
			return
		}
		again, err := revisions.ParsePropagators(p)
		if err != nil || again != p {
			t.Fatalf("normalised %q parses to %q, %v; want a fixed point", p, again, err)
		}
	})
}

// FuzzInjectedRecord: whatever the (user-editable) record says, a patch
// never removes or changes a variable that kntrace did not add, and removing
// after patching leaves the user's variables as they were.
func FuzzInjectedRecord(f *testing.F) {
	for _, s := range []string{`{"env":[["OTEL_SERVICE_NAME"]]}`, `{"env":[["USER_VAR","OTEL_PROPAGATORS"]],"annotations":["x"]}`, `{}`, `[]`, `{"env":[[1]]}`, "null", `{"env":[]} {}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, record string) {
		if _, _, err := revisions.ParseInjected(record); err != nil {
			// Only kntrace's JSON is accepted; an unparsable record means
			// nothing is kntrace's.
			record = "garbage"
		}
		userEnv := []corev1.EnvVar{{Name: "USER_VAR", Value: "u"}, {Name: conventions.EnvPropagators, Value: "b3"}}
		svc := service(map[string]string{conventions.InjectAnnotation: "true"}, map[string]string{conventions.InjectedAnnotation: record}, userEnv...)
		if _, err := revisions.Patch(revisions.ServiceTarget(svc)); err != nil {
			t.Fatal(err)
		}
		revisions.Remove(&svc.Spec.Template)
		got := svc.Spec.Template.Spec.Containers[0].Env
		// A record that claims the user's variables can remove them (the
		// record is the only memory there is), but never change them.
		for _, e := range got {
			for _, u := range userEnv {
				if e.Name == u.Name && e.Value != u.Value {
					t.Fatalf("user variable %s changed to %q", e.Name, e.Value)
				}
			}
		}
		if !strings.Contains(record, "USER_VAR") {
			if diff := cmp.Diff("u", envValue(got, "USER_VAR")); diff != "" {
				t.Fatalf("USER_VAR (-want +got):\n%s", diff)
			}
		}
	})
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// FuzzParseRelayBytes: an accepted size is within the relay's range and
// formats back to the same size; a refused one names the annotation.
func FuzzParseRelayBytes(f *testing.F) {
	for _, s := range []string{"16Mi", "16777216", "64Ki", "1Gi", "100M", "500k", "0", "-1Mi", "+1Mi", "1.5Mi", "Mi", "9223372036854775807Gi", " 4Mi", "1e9", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := revisions.ParseRelayBytes(conventions.RelayMaxBytesAnnotation, s)
		if err != nil {
			if !strings.Contains(err.Error(), conventions.RelayMaxBytesAnnotation) {
				t.Fatalf("error %q does not name the annotation", err)
			}
			return
		}
		if n < conventions.MinRelayBytes || n > conventions.MaxRelayBytes {
			t.Fatalf("ParseRelayBytes(%q) = %d, outside [%d, %d]", s, n, conventions.MinRelayBytes, conventions.MaxRelayBytes)
		}
		if n2, err := revisions.ParseRelayBytes(conventions.RelayMaxBytesAnnotation, conventions.FormatByteSize(n)); err != nil || n2 != n {
			t.Fatalf("FormatByteSize(%d) = %q does not round-trip: %d, %v", n, conventions.FormatByteSize(n), n2, err)
		}
	})
}

// FuzzParseRelayDrainTimeout: an accepted duration is within the relay's
// range and its String form reads back the same.
func FuzzParseRelayDrainTimeout(f *testing.F) {
	for _, s := range []string{"10s", "1m30s", "100ms", "5m", "10", "1h", "-1s", "1e3s", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := revisions.ParseRelayDrainTimeout(s)
		if err != nil {
			if !strings.Contains(err.Error(), conventions.RelayDrainTimeoutAnnotation) {
				t.Fatalf("error %q does not name the annotation", err)
			}
			return
		}
		if d < conventions.MinRelayDrainTimeout || d > conventions.MaxRelayDrainTimeout {
			t.Fatalf("ParseRelayDrainTimeout(%q) = %v, outside the range", s, d)
		}
		if d2, err := revisions.ParseRelayDrainTimeout(d.String()); err != nil || d2 != d {
			t.Fatalf("%v.String() does not round-trip: %v, %v", d, d2, err)
		}
	})
}
