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
