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

package benchtable

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPipelineRows: the scale-out benchmarks pair with the single collector
// and with a gateway without tail sampling.
func TestPipelineRows(t *testing.T) {
	const out = `BenchmarkPipeline/kntrace-scale-out-2   	1	 4000 spans/s	 90.0 cpu-µs/span	 300 rss-MiB
BenchmarkPipeline/single-collector-2    	1	 8000 spans/s	 30.0 cpu-µs/span	 100 rss-MiB
BenchmarkTailSampling/kntrace-tail-2    	1	 12.0 cpu-µs/span	 2500 heap-B/trace
BenchmarkTailSampling/no-tail-2         	1	 8.00 cpu-µs/span	 100 heap-B/trace
`
	s := Samples{}
	if err := Parse(strings.NewReader(out), s); err != nil {
		t.Fatal(err)
	}
	type brief struct{ Workload, Metric, Anchor string }
	var got []brief
	for _, r := range Pair(s, Targets) {
		got = append(got, brief{r.Workload, r.Metric, r.Anchor})
	}
	want := []brief{
		{"BenchmarkPipeline", "cpu-µs/span", "single-collector"},
		{"BenchmarkPipeline", "rss-MiB", "single-collector"},
		{"BenchmarkPipeline", "spans/s", "single-collector"},
		{"BenchmarkTailSampling", "cpu-µs/span", "no-tail"},
		{"BenchmarkTailSampling", "heap-B/trace", "no-tail"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}
