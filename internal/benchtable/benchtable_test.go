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
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/kntrace/kntrace/propagation
BenchmarkExtract/all/kntrace-2         	  300000	      3000 ns/op	     760 B/op	       8 allocs/op
BenchmarkExtract/all/otel-2            	  100000	      9000 ns/op	    2087 B/op	      27 allocs/op
BenchmarkExtract/all/kntrace-2         	  300000	      3500 ns/op	     760 B/op	       8 allocs/op
BenchmarkExtract/all/otel-2            	  100000	      8000 ns/op	    2087 B/op	      27 allocs/op
BenchmarkExtract/all/kntrace-2         	  300000	      3100 ns/op	     760 B/op	       8 allocs/op
BenchmarkExtract/all/otel-2            	  100000	     10000 ns/op	    2087 B/op	      27 allocs/op
BenchmarkQueueProxy/sampling=1/kntrace-2	       1	  10 p50-ms	  30 p99-ms	  900 req/s
BenchmarkQueueProxy/sampling=1/upstream-2	       1	  10 p50-ms	  20 p99-ms	 1000 req/s
BenchmarkQueueProxyStartup/kntrace-2   	       1	  30 ready-ms
BenchmarkQueueProxyStartup/upstream-2  	       1	  24 ready-ms
BenchmarkLonely/kntrace-2              	       1	  5 ns/op
PASS
`

func TestCompareRounds(t *testing.T) {
	type result struct {
		Ratio, RatioMin, RatioMax, Delta float64
		Paired                           bool
	}
	for _, tc := range []struct {
		name        string
		mine, other []float64
		want        result
	}{
		{
			// The medians, 140 and 150, come from different rounds; a round
			// measures both sides, so its own ratio is the comparison.
			name: "rounds paired", mine: []float64{95, 200, 140}, other: []float64{100, 150, 210},
			want: result{Ratio: 0.95, RatioMin: 140.0 / 210, RatioMax: 200.0 / 150, Delta: -5, Paired: true},
		},
		{
			name: "one round", mine: []float64{30}, other: []float64{24},
			want: result{Ratio: 1.25, RatioMin: 1.25, RatioMax: 1.25, Delta: 6, Paired: true},
		},
		{
			name: "a round missing: the medians", mine: []float64{1, 2, 3}, other: []float64{2, 4},
			want: result{Ratio: 2.0 / 3, RatioMin: 2.0 / 3, RatioMax: 2.0 / 3, Delta: -1},
		},
		{
			name: "anchor zero in a round", mine: []float64{1, 2, 3}, other: []float64{0, 2, 3},
			want: result{Ratio: 1, RatioMin: 1, RatioMax: math.Inf(1), Delta: 0, Paired: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := Row{Kntrace: stat(tc.mine), Other: stat(tc.other)}
			compare(&row, tc.mine, tc.other)
			got := result{row.Ratio, row.RatioMin, row.RatioMax, row.Delta, row.Paired}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("compare (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPairMediansRatiosTargets(t *testing.T) {
	s := Samples{}
	if err := Parse(strings.NewReader(sample), s); err != nil {
		t.Fatal(err)
	}
	rows := Pair(s, Targets)
	type brief struct {
		Workload, Metric, Anchor string
		Kn, Other, Ratio         float64
		Pass                     string
	}
	var got []brief
	for _, r := range rows {
		pass := "-"
		if r.Pass != nil {
			pass = map[bool]string{true: "pass", false: "MISSED"}[*r.Pass]
		}
		got = append(got, brief{r.Workload, r.Metric, r.Anchor, r.Kntrace.Median, r.Other.Median, float64(int(r.Ratio*1000)) / 1000, pass})
	}
	want := []brief{
		{"BenchmarkExtract/all", "ns/op", "otel", 3100, 9000, 0.333, "pass"}, // the rounds' 0.333, 0.438, 0.31
		{"BenchmarkExtract/all", "allocs/op", "otel", 8, 27, 0.296, "pass"},
		{"BenchmarkExtract/all", "B/op", "otel", 760, 2087, 0.364, "-"},
		{"BenchmarkQueueProxy/sampling=1", "p50-ms", "upstream", 10, 10, 1, "-"},
		{"BenchmarkQueueProxy/sampling=1", "p99-ms", "upstream", 30, 20, 1.5, "MISSED"},
		{"BenchmarkQueueProxy/sampling=1", "req/s", "upstream", 900, 1000, 0.9, "MISSED"},
		{"BenchmarkQueueProxyStartup", "ready-ms", "upstream", 30, 24, 1.25, "MISSED"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if rows[0].Kntrace.Min != 3000 || rows[0].Kntrace.Max != 3500 || rows[0].Kntrace.Runs != 3 {
		t.Errorf("spread = %+v, want min 3000 max 3500 over 3 runs", rows[0].Kntrace)
	}
	if _, err := json.Marshal(append(rows, Pair(Samples{
		"BenchmarkX/kntrace": {"B/op": {1}}, "BenchmarkX/batch": {"B/op": {0}},
	}, nil)...)); err != nil {
		t.Errorf("rows with an infinite ratio do not encode as JSON: %v", err)
	}
	var out bytes.Buffer
	if err := Write(&out, rows); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`Extract/all\s+ns/op\s+3100 \[3000–3500\]\s+otel 9000 \[8000–10000\]\s+0\.33× \[0\.31–0\.44\]\s+≤ 0\.90×\s+pass`).MatchString(out.String()) {
		t.Errorf("table:\n%s", out.String())
	}
}
