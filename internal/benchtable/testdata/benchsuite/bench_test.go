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

package benchsuite

import "testing"

func BenchmarkPair(b *testing.B) {
	for _, side := range []string{"kntrace", "upstream"} {
		b.Run(side, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
			}
			b.ReportMetric(1000, "req/s")
		})
	}
}

func BenchmarkBroken(b *testing.B) {
	b.ReportAllocs()
	b.Fatal("the benchmark cannot run")
}

func BenchmarkSkipped(b *testing.B) {
	b.ReportAllocs()
	b.Skip("a tool is missing")
}
