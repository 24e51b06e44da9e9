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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Suite is one package's benchmarks in `make bench`: the package's test
// binary runs the benchmarks that match Pattern for Benchtime, once a round.
type Suite struct {
	// Package is the package directory relative to the module root
	// ("cmd/queue").
	Package   string
	Pattern   string
	Benchtime string
	// Once runs the suite in the first round only: its benchmarks take
	// their own samples and report medians (the local cluster's, which
	// takes minutes to boot).
	Once bool
}

func (s Suite) String() string { return s.Package }

// ParseSuite reads a suite as hack/bench.sh lists it: "package pattern
// benchtime", and "once" after them for a suite that runs in the first
// round only.
func ParseSuite(line string) (Suite, error) {
	f := strings.Fields(line)
	if len(f) < 3 || len(f) > 4 || (len(f) == 4 && f[3] != "once") {
		return Suite{}, fmt.Errorf("suite %q: want \"package pattern benchtime [once]\", e.g. \"cmd/queue ^Benchmark 1x\"", line)
	}
	if _, err := regexp.Compile(f[1]); err != nil {
		return Suite{}, fmt.Errorf("suite %q: pattern: %w", line, err)
	}
	return Suite{Package: f[0], Pattern: f[1], Benchtime: f[2], Once: len(f) == 4}, nil
}

// Runner compiles a suite's test binary and runs its benchmarks once,
// writing the binary's output (stdout and stderr) to out. GoRunner is the
// real one.
type Runner interface {
	Compile(ctx context.Context, s Suite) error
	Run(ctx context.Context, s Suite, out io.Writer) error
}

// Run compiles every suite, then runs them rounds times (a suite marked
// Once in the first round only), the suites taking turns within each round
// so that machine noise hits kntrace and its anchor alike. Everything the binaries print goes to raw; progress (and the
// result, failure and panic lines) to progress.
//
// A suite that does not compile, exits with an error, fails, skips or
// panics in a benchmark, or reports no benchmark result at all is an error
// naming the suite and the round: rows must never disappear silently. The
// other suites and rounds still run, and the samples of every run that
// reported results are returned with the joined errors.
func Run(ctx context.Context, r Runner, suites []Suite, rounds int, raw, progress io.Writer) (Samples, error) {
	if len(suites) == 0 {
		return nil, errors.New("no benchmark suites")
	}
	if rounds < 1 {
		return nil, fmt.Errorf("rounds = %d, want at least 1", rounds)
	}
	var errs []error
	runnable := make([]Suite, 0, len(suites))
	for _, s := range suites {
		fmt.Fprintf(progress, "compiling %s benchmarks\n", s.Package)
		if err := r.Compile(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("suite %s: compile: %w", s, err))
			continue
		}
		runnable = append(runnable, s)
	}
	samples := Samples{}
	for round := 1; round <= rounds; round++ {
		for _, s := range runnable {
			if s.Once && round > 1 {
				continue
			}
			if err := ctx.Err(); err != nil {
				return samples, errors.Join(append(errs, err)...)
			}
			fmt.Fprintf(progress, "round %d/%d: %s\n", round, rounds, s.Package)
			var out bytes.Buffer
			lines := &resultLines{w: progress}
			start := time.Now()
			runErr := r.Run(ctx, s, io.MultiWriter(&out, raw, lines))
			lines.flush()
			fmt.Fprintf(progress, "round %d/%d: %s took %s\n", round, rounds, s.Package, time.Since(start).Round(time.Second))
			if err := errors.Join(runErr, CheckOutput(out.Bytes())); err != nil {
				errs = append(errs, fmt.Errorf("suite %s (%s), round %d: %w", s, s.Pattern, round, err))
			}
			if err := Parse(bytes.NewReader(out.Bytes()), samples); err != nil {
				errs = append(errs, fmt.Errorf("suite %s, round %d: reading its output: %w", s, round, err))
			}
		}
	}
	return samples, errors.Join(errs...)
}

// CheckOutput checks one run of a test binary's benchmarks: at least one
// result line, and no failed, skipped or panicking benchmark.
func CheckOutput(out []byte) error {
	var (
		results                int
		failed, skipped        []string
		panicked, binaryFailed bool
	)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case isResult(line):
			results++
		case strings.HasPrefix(trimmed, "--- FAIL:"):
			failed = append(failed, benchName(trimmed))
		case strings.HasPrefix(trimmed, "--- SKIP:"):
			skipped = append(skipped, benchName(trimmed))
		case strings.HasPrefix(line, "panic:"):
			panicked = true
		case line == "FAIL":
			binaryFailed = true
		}
	}
	var errs []error
	if len(failed) > 0 {
		errs = append(errs, fmt.Errorf("failed: %s", strings.Join(failed, ", ")))
	}
	if len(skipped) > 0 {
		errs = append(errs, fmt.Errorf("skipped (their rows would be missing): %s", strings.Join(skipped, ", ")))
	}
	if panicked {
		errs = append(errs, errors.New("a benchmark panicked"))
	}
	if binaryFailed && len(failed) == 0 && !panicked {
		errs = append(errs, errors.New("the test binary reported FAIL"))
	}
	if results == 0 {
		errs = append(errs, errors.New("no benchmark results: the pattern matched no benchmark, or none finished"))
	}
	return errors.Join(errs...)
}

// isResult reports whether line is a benchmark result ("BenchmarkX-2  100
// 12 ns/op ...").
func isResult(line string) bool {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return false
	}
	for _, c := range f[1] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// benchName is the benchmark of a "--- FAIL: BenchmarkX (0.00s)" line.
func benchName(line string) string {
	f := strings.Fields(line)
	if len(f) < 3 {
		return line
	}
	return f[2]
}

// resultLines passes on, line by line, the lines worth seeing while `make
// bench` runs: results, failures, skips and panics.
type resultLines struct {
	w       io.Writer
	partial []byte
}

func (r *resultLines) Write(p []byte) (int, error) {
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		r.line(string(r.partial[:i+1]))
		r.partial = r.partial[i+1:]
	}
}

func (r *resultLines) flush() {
	if len(r.partial) > 0 {
		r.line(string(r.partial) + "\n")
		r.partial = nil
	}
}

func (r *resultLines) line(line string) {
	t := strings.TrimSpace(line)
	if isResult(line) || strings.HasPrefix(t, "--- FAIL") || strings.HasPrefix(t, "--- SKIP") ||
		strings.HasPrefix(line, "panic:") || t == "FAIL" {
		_, _ = io.WriteString(r.w, line)
	}
}

// GoRunner compiles suites with `go test -c` in the module at Dir and runs
// the test binaries in their package directories.
type GoRunner struct {
	// Dir is the module root.
	Dir string
	// BinDir receives the test binaries; a relative BinDir is relative to
	// Dir.
	BinDir string
	// Log receives the go tool's output.
	Log io.Writer
}

var _ Runner = GoRunner{}

// binary is the absolute path of the suite's test binary: Run starts it in
// the package's directory.
func (g GoRunner) binary(s Suite) string {
	dir := g.BinDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(g.Dir, dir)
	}
	return filepath.Join(dir, strings.ReplaceAll(filepath.ToSlash(filepath.Clean(s.Package)), "/", "_")+".test")
}

// Compile builds the suite's test binary into BinDir.
func (g GoRunner) Compile(ctx context.Context, s Suite) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", g.binary(s), "./"+filepath.ToSlash(filepath.Clean(s.Package)))
	cmd.Dir = g.Dir
	cmd.Stdout, cmd.Stderr = g.Log, g.Log
	return cmd.Run()
}

// Run runs the suite's benchmarks once (-test.count 1, with -test.benchmem,
// and -test.v so that a skipped benchmark says so). A cancelled ctx
// interrupts the binary, which then has a minute to clean up what it
// started.
func (g GoRunner) Run(ctx context.Context, s Suite, out io.Writer) error {
	cmd := exec.CommandContext(ctx, g.binary(s), "-test.run", "^$", "-test.bench", s.Pattern,
		"-test.benchmem", "-test.benchtime", s.Benchtime, "-test.count", "1", "-test.v")
	cmd.Dir = filepath.Join(g.Dir, s.Package)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Minute
	return cmd.Run()
}
