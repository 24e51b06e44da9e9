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

// Command benchtable runs `make bench`'s suites and prints its comparison
// table; see package benchtable.
//
//	benchtable -suite "cmd/queue ^Benchmark 1x" [-suite …] [-rounds 7] [-out DIR] [-json FILE]
//	benchtable [-json FILE] [FILE …]
//
// With -suite it compiles each suite's test binary into -out, runs the
// suites -rounds times in turns (raw output in -out/raw.txt) and prints the
// table; without, it prints the table of `go test -bench` output read from
// the files (or standard input). It exits non-zero when a suite fails or
// reports nothing, or when a target has no result; a target missed by the
// figures is printed as MISSED.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/kntrace/kntrace/internal/benchtable"
)

func main() {
	var suites []benchtable.Suite
	flag.Func("suite", `a suite to run: "package pattern benchtime" (repeatable)`, func(v string) error {
		s, err := benchtable.ParseSuite(v)
		if err != nil {
			return err
		}
		suites = append(suites, s)
		return nil
	})
	rounds := flag.Int("rounds", 5, "rounds of every suite, with -suite")
	outDir := flag.String("out", "_output/bench", "directory of the test binaries and raw.txt, with -suite")
	jsonPath := flag.String("json", "", "also write the rows as JSON to this file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(suites) > 0 {
		err = runSuites(ctx, suites, *rounds, *outDir, *jsonPath, os.Stdout, os.Stderr)
	} else {
		err = table(flag.Args(), *jsonPath, os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

// runSuites compiles and runs the suites with the go tool from the module
// at the working directory, then prints the table. Run errors and targets
// without a result are returned after the table is printed.
func runSuites(ctx context.Context, suites []benchtable.Suite, rounds int, outDir, jsonPath string, out, progress io.Writer) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	raw, err := os.Create(filepath.Join(outDir, "raw.txt"))
	if err != nil {
		return err
	}
	defer raw.Close()
	r := benchtable.GoRunner{Dir: wd, BinDir: outDir, Log: progress}
	samples, runErr := benchtable.Run(ctx, r, suites, rounds, raw, progress)
	tableErr := emit(samples, jsonPath, out)
	if runErr != nil {
		runErr = fmt.Errorf("make bench is incomplete (raw output in %s):\n%w", raw.Name(), runErr)
	}
	return errors.Join(runErr, tableErr)
}

// table prints the table of the output in files, or in stdin without files.
func table(files []string, jsonPath string, stdin io.Reader, out io.Writer) error {
	samples := benchtable.Samples{}
	if len(files) == 0 {
		if err := benchtable.Parse(stdin, samples); err != nil {
			return err
		}
	}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			return err
		}
		err = benchtable.Parse(r, samples)
		r.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return emit(samples, jsonPath, out)
}

// emit prints the rows of samples, each target answered or marked without
// a result, and the verdicts; a target without a result is an error.
func emit(samples benchtable.Samples, jsonPath string, out io.Writer) error {
	rows := benchtable.AddMissing(benchtable.Pair(samples, benchtable.Targets), benchtable.Targets)
	if err := benchtable.Write(out, rows); err != nil {
		return err
	}
	passed, missed, noResult := benchtable.Verdicts(rows)
	fmt.Fprintf(out, "\ntargets: %d pass, %d MISSED, %d without a result\n", passed, missed, noResult)
	if jsonPath != "" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if noResult > 0 {
		return fmt.Errorf("%d targets have no result: the benchmarks that answer them did not run or reported nothing", noResult)
	}
	return nil
}
