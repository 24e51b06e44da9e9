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
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeRunner answers each package with canned output and errors.
type fakeRunner struct {
	compileErr map[string]error
	output     map[string]string
	runErr     map[string]error
	runs       []string
}

func (f *fakeRunner) Compile(_ context.Context, s Suite) error { return f.compileErr[s.Package] }

func (f *fakeRunner) Run(_ context.Context, s Suite, out io.Writer) error {
	f.runs = append(f.runs, s.Package)
	_, _ = io.WriteString(out, f.output[s.Package])
	return f.runErr[s.Package]
}

const pairOutput = `goos: linux
pkg: example.com/good
BenchmarkPair/kntrace-2   	       1	       100 ns/op	      1000 req/s
BenchmarkPair/upstream-2  	       1	       120 ns/op	      1010 req/s
PASS
`

func suites(t *testing.T, lines ...string) []Suite {
	t.Helper()
	var out []Suite
	for _, l := range lines {
		s, err := ParseSuite(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestRunReportsEverySuiteThatDropsItsRows: the bug `make bench` had was a
// suite that silently added no rows. Every way a suite can end without
// results is an error that names it, and the other suites' rows survive.
func TestRunReportsEverySuiteThatDropsItsRows(t *testing.T) {
	for _, tc := range []struct {
		name       string
		output     string
		runErr     error
		compileErr error
		want       string
	}{
		{name: "no benchmark matches the pattern", output: "PASS\n", want: `suite bad \(\^BenchmarkX\$\), round 1: no benchmark results`},
		{name: "the binary exits with an error", output: "BenchmarkX/kntrace-2   1   5 ns/op\n", runErr: errors.New("exit status 2"), want: `suite bad .*round 1: exit status 2`},
		{name: "a benchmark fails", output: "--- FAIL: BenchmarkX/kntrace\n    x_test.go:9: boom\nFAIL\n", runErr: errors.New("exit status 1"),
			want: `round 1: exit status 1\nfailed: BenchmarkX/kntrace\nno benchmark results`},
		{name: "a benchmark is skipped", output: "BenchmarkX\n--- SKIP: BenchmarkX\nPASS\n", want: `skipped \(their rows would be missing\): BenchmarkX`},
		{name: "a benchmark panics", output: "panic: nil map\n\ngoroutine 1 [running]:\n", runErr: errors.New("exit status 2"), want: `a benchmark panicked`},
		{name: "the suite does not compile", compileErr: errors.New("exit status 1"), want: `suite bad: compile: exit status 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &fakeRunner{
				output:     map[string]string{"good": pairOutput, "bad": tc.output},
				runErr:     map[string]error{"bad": tc.runErr},
				compileErr: map[string]error{"bad": tc.compileErr},
			}
			var raw, progress bytes.Buffer
			samples, err := Run(context.Background(), r, suites(t, "good ^BenchmarkPair$ 1x", "bad ^BenchmarkX$ 1x"), 2, &raw, &progress)
			if err == nil {
				t.Fatalf("no error; progress:\n%s", progress.String())
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Errorf("error %q does not match %q", err, tc.want)
			}
			if tc.compileErr == nil && !strings.Contains(err.Error(), "round 2") {
				t.Errorf("error %q does not name round 2 too", err)
			}
			if got := samples["BenchmarkPair/kntrace"]["req/s"]; len(got) != 2 {
				t.Errorf("the good suite's req/s samples = %v, want one per round", got)
			}
			if !strings.Contains(raw.String(), "BenchmarkPair/upstream-2") {
				t.Errorf("raw output lacks the good suite's results:\n%s", raw.String())
			}
		})
	}
}

// TestRunOnceSuiteRunsInTheFirstRoundOnly: a suite marked once (the local
// cluster's) runs in round 1 and nowhere else; its samples are there.
func TestRunOnceSuiteRunsInTheFirstRoundOnly(t *testing.T) {
	r := &fakeRunner{output: map[string]string{"a": pairOutput, "cluster": pairOutput}}
	samples, err := Run(context.Background(), r, suites(t, "a ^BenchmarkPair$ 1x", "cluster ^BenchmarkPair$ 1x once"), 3, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "cluster", "a", "a"}, r.runs); diff != "" {
		t.Errorf("run order (-want +got):\n%s", diff)
	}
	if got := len(samples["BenchmarkPair/kntrace"]["req/s"]); got != 4 {
		t.Errorf("BenchmarkPair/kntrace req/s: %d samples, want 4 (3 rounds of a, 1 of cluster)", got)
	}
}

func TestRunAlternatesSuitesWithinRounds(t *testing.T) {
	r := &fakeRunner{output: map[string]string{"a": pairOutput, "b": pairOutput}}
	var progress bytes.Buffer
	if _, err := Run(context.Background(), r, suites(t, "a ^BenchmarkPair$ 1x", "b ^BenchmarkPair$ 1x"), 3, io.Discard, &progress); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "a", "b", "a", "b"}, r.runs); diff != "" {
		t.Errorf("run order (-want +got):\n%s", diff)
	}
	// Progress shows the result lines, not the headers.
	if strings.Contains(progress.String(), "goos:") || !strings.Contains(progress.String(), "BenchmarkPair/kntrace-2") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

func TestParseSuite(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Suite
		wantErr    string
	}{
		{name: "as bench.sh lists it", line: "cmd/queue ^BenchmarkQueueProxy(Startup)?$ 1x", want: Suite{Package: "cmd/queue", Pattern: "^BenchmarkQueueProxy(Startup)?$", Benchtime: "1x"}},
		{name: "once", line: "test/cluster ^BenchmarkClusterIngress$ 1x once", want: Suite{Package: "test/cluster", Pattern: "^BenchmarkClusterIngress$", Benchtime: "1x", Once: true}},
		{name: "no benchtime", line: "cmd/queue ^Benchmark", wantErr: `want "package pattern benchtime [once]"`},
		{name: "a fourth field that is not once", line: "cmd/queue ^Benchmark 1x twice", wantErr: `want "package pattern benchtime [once]"`},
		{name: "bad pattern", line: "cmd/queue ^Benchmark( 1x", wantErr: "pattern: error parsing regexp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSuite(tc.line)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("suite (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGoRunnerRealBinaries runs GoRunner as `make bench` does, on the test
// binary of testdata/benchsuite: its pair gives rows, and a pattern that
// matches nothing, a failing and a skipped benchmark are each an error.
func TestGoRunnerRealBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a test binary")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A relative BinDir, as hack/bench.sh may pass it, is the module's.
	bin, err := filepath.Rel(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r := GoRunner{Dir: root, BinDir: bin, Log: &log}
	const pkg = "internal/benchtable/testdata/benchsuite"
	for _, tc := range []struct {
		name, pattern, wantErr string
	}{
		{name: "a pair reports results", pattern: "^BenchmarkPair$"},
		{name: "the pattern matches nothing", pattern: "^BenchmarkNone$", wantErr: "no benchmark results"},
		{name: "a benchmark fails", pattern: "^BenchmarkBroken$", wantErr: "failed: BenchmarkBroken"},
		{name: "a benchmark is skipped", pattern: "^BenchmarkSkipped$", wantErr: "skipped (their rows would be missing): BenchmarkSkipped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var progress bytes.Buffer
			samples, err := Run(ctx, r, suites(t, pkg+" "+tc.pattern+" 1x"), 1, io.Discard, &progress)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("%v\ngo tool:\n%s", err, log.String())
				}
				if got := samples["BenchmarkPair/upstream"]["req/s"]; len(got) != 1 || got[0] != 1000 {
					t.Errorf("req/s of BenchmarkPair/upstream = %v, want [1000]", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q\ngo tool:\n%s", err, tc.wantErr, log.String())
			}
		})
	}
}

// TestAddMissingMarksTargetsWithoutAResult: a target whose benchmark did
// not run gets a MISSED row saying "no result", and counts as such.
func TestAddMissingMarksTargetsWithoutAResult(t *testing.T) {
	s := Samples{}
	if err := Parse(strings.NewReader(pairOutput), s); err != nil {
		t.Fatal(err)
	}
	targets := []Target{
		{Workload: regexp.MustCompile(`^BenchmarkPair$`), Metric: "req/s", MinRatio: 0.95, Source: "pair throughput"},
		{Workload: regexp.MustCompile(`^BenchmarkQueueProxy/sampling=1$`), Metric: "req/s", MinRatio: 0.95, Source: "queue-proxy throughput"},
	}
	rows := AddMissing(Pair(s, targets), targets)
	passed, missed, noResult := Verdicts(rows)
	if passed != 1 || missed != 0 || noResult != 1 {
		t.Errorf("verdicts = %d pass, %d missed, %d without a result; want 1, 0, 1", passed, missed, noResult)
	}
	var out bytes.Buffer
	if err := Write(&out, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`Pair\s+req/s\s+1000 \[1000–1000\]\s+upstream 1010 \[1010–1010\]\s+0\.99×\s+≥ 0\.95×\s+pass`,
		`\^BenchmarkQueueProxy/sampling=1\$\s+req/s\s+no result\s+-\s+-\s+≥ 0\.95×\s+MISSED`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("table does not match %q:\n%s", want, out.String())
		}
	}
}

// TestQueueProxyTargetsAtBothRates: the queue-proxy's throughput and p99
// targets hold, each by exactly one target, at sampling 1 and at sampling
// 0.
func TestQueueProxyTargetsAtBothRates(t *testing.T) {
	for _, w := range []string{"BenchmarkQueueProxy/sampling=1", "BenchmarkQueueProxy/sampling=0"} {
		for _, metric := range []string{"req/s", "p99-ms"} {
			n := 0
			for _, tg := range Targets {
				if tg.Metric == metric && tg.Workload.MatchString(w) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s %s: %d targets, want 1", w, metric, n)
			}
		}
	}
}
