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

// Command benchtable prints `make bench`'s comparison table from `go test
// -bench` output files (or standard input); see package benchtable.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/kntrace/kntrace/internal/benchtable"
)

func main() {
	jsonPath := flag.String("json", "", "also write the rows as JSON to this file")
	flag.Parse()
	if err := run(flag.Args(), *jsonPath, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func run(files []string, jsonPath string, stdin io.Reader, out io.Writer) error {
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
	rows := benchtable.Pair(samples, benchtable.Targets)
	if len(rows) == 0 {
		return fmt.Errorf("no kntrace/anchor benchmark pairs in the input")
	}
	if err := benchtable.Write(out, rows); err != nil {
		return err
	}
	if jsonPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(jsonPath, append(b, '\n'), 0o644)
}
