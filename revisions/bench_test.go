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
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
)

// BenchmarkPatch: the cost the webhook pays per admission, for a first
// injection, a second (idempotent) pass and a removal.
func BenchmarkPatch(b *testing.B) {
	on := map[string]string{conventions.InjectAnnotation: "true", conventions.PropagatorsAnnotation: "tracecontext,baggage,b3"}
	fresh := service(on, nil, corev1.EnvVar{Name: "GREETING", Value: "hi"})
	injected := fresh.DeepCopy()
	if _, err := revisions.Patch(revisions.ServiceTarget(injected)); err != nil {
		b.Fatal(err)
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := fresh.DeepCopy()
			if _, err := revisions.Patch(revisions.ServiceTarget(s)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("idempotent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := injected.DeepCopy()
			if r, err := revisions.Patch(revisions.ServiceTarget(s)); err != nil || r.Changed {
				b.Fatal(r.Changed, err)
			}
		}
	})
	b.Run("remove", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s := injected.DeepCopy()
			revisions.Remove(&s.Spec.Template)
		}
	})
}
