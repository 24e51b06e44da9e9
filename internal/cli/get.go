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

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kntrace/kntrace/jaeger"
)

func newGetCommand(g *globals) *cobra.Command {
	var (
		jf     jaegerFlags
		output string
		width  int
	)
	cmd := &cobra.Command{
		Use:   "get TRACE_ID",
		Short: "Draw one trace from Jaeger as a waterfall",
		Long: `Draw the trace TRACE_ID as a waterfall: one row per span in tree order with
service, operation, duration and a time bar scaled to the terminal's width.
Cold-start phases (~), the request that waited for a cold start (*) and errors
(!) are marked, and coloured when the output is a terminal and NO_COLOR is not
set. TRACE_ID is 1 to 32 hex digits or a W3C traceparent.

-o json|yaml prints the trace model (Jaeger's span IDs, parents, start times
and durations, plus depth, critical path, errors and cold-start phases);
-o html writes one self-contained page drawing the same waterfall.`,
		Example: `  kn trace get 4bf92f3577b34da6a3ce929d0e0e4736
  kn trace get 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 --width 100
  kn trace get 4bf92f3577b34da6a3ce929d0e0e4736 -o html > trace.html
  kn trace get 4bf92f3577b34da6a3ce929d0e0e4736 -o json | jq '.spans[] | select(.error)'`,
		Args: exactArgs("TRACE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutput(output, "html")
			if err != nil {
				return err
			}
			if _, err := jaeger.ParseTraceID(args[0]); err != nil {
				return usageError("%v", err)
			}
			if cmd.Flags().Changed("width") && width < jaeger.MinWaterfallWidth {
				return usageError("--width %d: want at least %d columns", width, jaeger.MinWaterfallWidth)
			}
			c, closeJaeger, err := jf.dial(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer closeJaeger()
			raw, err := c.GetTrace(cmd.Context(), args[0])
			if errors.Is(err, jaeger.ErrNotFound) {
				return fmt.Errorf("%w (Jaeger at %s; traces appear a moment after export, and in-memory storage forgets them on restart)", err, c.Addr())
			}
			if err != nil {
				return err
			}
			t, err := jaeger.Build(raw)
			if err != nil {
				return err
			}
			out := g.streams.Out
			switch format {
			case "json", "yaml":
				return writeStructured(out, format, t)
			case "html":
				return jaeger.WriteHTML(out, t)
			}
			if !cmd.Flags().Changed("width") {
				width = terminalWidth(out, os.Getenv)
			}
			return jaeger.WriteWaterfall(out, t, jaeger.WithWidth(width), jaeger.WithColor(useColor(out, os.Getenv)))
		},
	}
	jf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json, yaml or html")
	cmd.Flags().IntVar(&width, "width", 0, "waterfall width in columns (default $COLUMNS, the terminal's width, or 120)")
	return cmd
}

// terminalWidth is $COLUMNS, else the width of w when it is a terminal,
// else jaeger.DefaultWaterfallWidth.
func terminalWidth(w io.Writer, getenv func(string) string) int {
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if n, _, err := term.GetSize(int(f.Fd())); err == nil && n > 0 {
			return n
		}
	}
	return jaeger.DefaultWaterfallWidth
}

// useColor: only on a terminal, and never when NO_COLOR is set to anything
// (https://no-color.org).
func useColor(w io.Writer, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
