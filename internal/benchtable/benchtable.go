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
	"bufio"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// anchors are the last name elements of the side kntrace is compared with.
var anchors = []string{"otel", "batch", "upstream", "sdk", "no-webhook", "single-collector", "no-tail"}

// Samples holds every measurement: benchmark name → metric unit → values.
type Samples map[string]map[string][]float64

// Parse reads `go test -bench` output; unrelated lines are ignored. The
// GOMAXPROCS suffix ("-2") is dropped from names.
func Parse(r io.Reader, into Samples) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			continue
		}
		name := trimProcs(fields[0])
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				break
			}
			unit := fields[i+1]
			if into[name] == nil {
				into[name] = map[string][]float64{}
			}
			into[name][unit] = append(into[name][unit], v)
		}
	}
	return sc.Err()
}

var procsSuffix = regexp.MustCompile(`-\d+$`)

func trimProcs(name string) string { return procsSuffix.ReplaceAllString(name, "") }

// Stat is the median and spread of one metric.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Runs   int     `json:"runs"`
}

func stat(vs []float64) Stat {
	s := slices.Clone(vs)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[n-1], Runs: n}
}

// Target bounds kntrace's figure relative to the anchor's: at most MaxRatio
// for costs (time, allocations, latency), at least MinRatio for rates
// (requests per second). Zero means unbounded.
type Target struct {
	// Workload matches the pair's workload name (the benchmark name without
	// its last element).
	Workload *regexp.Regexp
	Metric   string
	MaxRatio float64
	MinRatio float64
	// MaxDelta bounds kntrace's median minus the anchor's, in the metric's
	// unit, for promises stated as an absolute cost (start-up + 5 ms).
	MaxDelta float64
	Source   string
}

func (t Target) met(ratio, delta float64) bool {
	return (t.MaxRatio == 0 || ratio <= t.MaxRatio) && (t.MinRatio == 0 || ratio >= t.MinRatio) &&
		(t.MaxDelta == 0 || delta <= t.MaxDelta)
}

func (t Target) String() string {
	if t.MaxDelta != 0 {
		return fmt.Sprintf("≤ +%g", t.MaxDelta)
	}
	if t.MinRatio != 0 {
		return fmt.Sprintf("≥ %.2f×", t.MinRatio)
	}
	return fmt.Sprintf("≤ %.2f×", t.MaxRatio)
}

// Row is one line of the table.
type Row struct {
	Workload string `json:"workload"`
	Metric   string `json:"metric"`
	Kntrace  Stat   `json:"kntrace"`
	Anchor   string `json:"anchor"`
	Other    Stat   `json:"anchorStat"`
	// Ratio is kntrace's figure over the anchor's, and Delta kntrace's minus
	// the anchor's (compare): when Paired, the medians of the rounds' own
	// ratios and differences, with RatioMin and RatioMax their spread; else
	// those of the two medians. Ratio is +Inf when the anchor's figure is
	// zero (JSON then has no ratio).
	Ratio              float64 `json:"-"`
	RatioMin, RatioMax float64 `json:"-"`
	Delta              float64 `json:"delta"`
	Paired             bool    `json:"paired"`
	// FiniteRatio is Ratio for JSON, absent when infinite.
	FiniteRatio *float64 `json:"ratio,omitempty"`
	Target      string   `json:"target,omitempty"`
	Source      string   `json:"targetSource,omitempty"`
	// Pass is nil when the row has no target.
	Pass *bool `json:"pass,omitempty"`
	// NoResult marks the row of a target that no benchmark result answered
	// (AddMissing); its Workload is the target's pattern.
	NoResult bool `json:"noResult,omitempty"`
}

// reported are the metrics shown, in this order; custom metrics a benchmark
// reports (p50-ms, req/s, …) follow.
var reported = []string{"ns/op", "allocs/op", "B/op"}

// Pair builds the rows for every kntrace/anchor pair in samples.
func Pair(samples Samples, targets []Target) []Row {
	var rows []Row
	for _, name := range slices.Sorted(maps.Keys(samples)) {
		workload, side, ok := cutLast(name)
		if !ok || (side != "kntrace" && !strings.HasPrefix(side, "kntrace-")) {
			continue
		}
		for _, a := range anchors {
			other, ok := samples[workload+"/"+a]
			if !ok {
				continue
			}
			mine := samples[name]
			for _, metric := range metricsOf(mine, other) {
				row := Row{Workload: workload, Metric: metric, Kntrace: stat(mine[metric]), Anchor: a, Other: stat(other[metric])}
				compare(&row, mine[metric], other[metric])
				if !math.IsInf(row.Ratio, 0) {
					r := row.Ratio
					row.FiniteRatio = &r
				}
				for _, t := range targets {
					if t.Metric == metric && t.Workload.MatchString(workload) {
						pass := t.met(row.Ratio, row.Delta)
						row.Target, row.Source, row.Pass = t.String(), t.Source, &pass
						break
					}
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

// AddMissing appends a row, not passing, for every target that no row
// answers: the benchmark that should have measured it did not run, or
// reported nothing for one of the two sides.
func AddMissing(rows []Row, targets []Target) []Row {
	for _, t := range targets {
		answered := slices.ContainsFunc(rows, func(r Row) bool {
			return !r.NoResult && r.Metric == t.Metric && t.Workload.MatchString(r.Workload)
		})
		if !answered {
			pass := false
			rows = append(rows, Row{Workload: t.Workload.String(), Metric: t.Metric, Target: t.String(), Source: t.Source, Pass: &pass, NoResult: true})
		}
	}
	return rows
}

// Verdicts counts the rows with a target: passed, missed (measured and
// outside the target) and without a result.
func Verdicts(rows []Row) (passed, missed, noResult int) {
	for _, r := range rows {
		switch {
		case r.Pass == nil:
		case r.NoResult:
			noResult++
		case *r.Pass:
			passed++
		default:
			missed++
		}
	}
	return passed, missed, noResult
}

func metricsOf(a, b map[string][]float64) []string {
	var out []string
	for _, m := range reported {
		if len(a[m]) > 0 && len(b[m]) > 0 {
			out = append(out, m)
		}
	}
	for _, m := range slices.Sorted(maps.Keys(a)) {
		if !slices.Contains(reported, m) && len(b[m]) > 0 {
			out = append(out, m)
		}
	}
	return out
}

func cutLast(name string) (string, string, bool) {
	i := strings.LastIndex(name, "/")
	if i < 0 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// compare sets row's ratio and difference. When both sides have a figure
// from every round (a round measures the two sides together, in turns),
// they are the medians of the rounds' own ratios and differences, so that
// what a round shares (a machine busier in one round than in the next)
// cancels instead of setting one side's median against another round's;
// otherwise they are the ratio and difference of the two medians.
func compare(row *Row, mine, other []float64) {
	if len(mine) != len(other) {
		row.Ratio = ratio(row.Kntrace.Median, row.Other.Median)
		row.RatioMin, row.RatioMax = row.Ratio, row.Ratio
		row.Delta = row.Kntrace.Median - row.Other.Median
		return
	}
	rs, ds := make([]float64, len(mine)), make([]float64, len(mine))
	for i := range mine {
		rs[i], ds[i] = ratio(mine[i], other[i]), mine[i]-other[i]
	}
	r := stat(rs)
	row.Ratio, row.RatioMin, row.RatioMax = r.Median, r.Min, r.Max
	row.Delta = stat(ds).Median
	row.Paired = true
}

func ratio(a, b float64) float64 {
	if b == 0 {
		if a == 0 {
			return 1
		}
		return math.Inf(1)
	}
	return a / b
}

// Write prints rows as an aligned text table. Every row with a target ends
// in its verdict, "pass" or "MISSED"; a target without a result says so
// ("no result") in place of the figures.
func Write(w io.Writer, rows []Row) error {
	tw := &table{}
	tw.add("workload", "metric", "kntrace (median, spread)", "anchor (median, spread)", "ratio (median, spread)", "target", "")
	for _, r := range rows {
		target, verdict := "", ""
		if r.Pass != nil {
			target = r.Target
			verdict = "MISSED"
			if *r.Pass {
				verdict = "pass"
			}
		}
		if r.NoResult {
			tw.add(r.Workload, r.Metric, "no result", "-", "-", target, verdict)
			continue
		}
		rat := fmt.Sprintf("%.2f×", r.Ratio)
		if r.RatioMin != r.RatioMax {
			rat += fmt.Sprintf(" [%.2f–%.2f]", r.RatioMin, r.RatioMax)
		}
		tw.add(strings.TrimPrefix(r.Workload, "Benchmark"), r.Metric, fmtStat(r.Kntrace), r.Anchor+" "+fmtStat(r.Other),
			rat, target, verdict)
	}
	return tw.write(w)
}

func fmtStat(s Stat) string {
	return fmt.Sprintf("%s [%s–%s]", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
}

func fmtNum(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e7:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

type table struct{ rows [][]string }

func (t *table) add(cols ...string) { t.rows = append(t.rows, cols) }

func (t *table) write(w io.Writer) error {
	widths := make([]int, len(t.rows[0]))
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
			}
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " ")); err != nil {
			return err
		}
	}
	return nil
}
