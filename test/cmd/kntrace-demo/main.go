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

// Command kntrace-demo is what `make demo` runs; see package demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kntrace/kntrace/test/demo"
)

func main() {
	noWait := flag.Bool("no-wait", false, "exit once everything is shown instead of keeping the cluster up until Ctrl-C")
	width := flag.Int("width", demo.DefaultWidth, "waterfall width in columns")
	flag.Parse()
	opts := []demo.Option{demo.WithWidth(*width)}
	if *noWait {
		opts = append(opts, demo.WithoutWaiting())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, os.Stdout, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		stop()
		os.Exit(1)
	}
}
