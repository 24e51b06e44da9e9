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
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kntrace/kntrace/jaeger"
)

type coldStartsFlags struct {
	jaegerFlags
	namespace string
	since     windowFlag
	limit     int
	output    string
}

func newColdStartsCommand(g *globals) *cobra.Command {
	f := coldStartsFlags{since: windowFlag(time.Hour)}
	cmd := &cobra.Command{
		Use:     "coldstarts [SERVICE]",
		Aliases: []string{"coldstart"},
		Short:   "Show the recent cold starts of a Knative Service and where their time went",
		Long: `Show the cold starts kntrace's activator recorded in Jaeger: for each scale
from zero, when the first request arrived, the revision, the trace that holds
its phases, how many other requests waited for the same pod (joined), the
total and each phase in milliseconds, then a one-line summary per cold start
and the p50 and p95 of the total and of every phase over the window, newest
first.

The phases are the activator's (pod start, app init, readiness, proxy), or,
where kntrace had Kubernetes' own records of the pod's start, scale up,
scheduling, sandbox, image ("present" when no image was pulled), containers,
app init, readiness, endpoints and proxy. A request that waited for a cold
start another request woke is counted with that one, not as a cold start of
its own; a cold start whose caller was not sampled is kept in a trace of its
own and counted too.

SERVICE is the Knative Service's name (the revision's faas.name); without it,
every Service's cold starts are shown. With -n, only cold starts in that
namespace. The p50 and p95 cover every cold start in the window, --limit only
how many are listed.`,
		Example: `  # Cold starts of the Knative Service "hello" in namespace demo, last hour
  kn trace coldstarts hello -n demo
  # Every Service's cold starts of the last day, as JSON
  kn trace coldstarts --since 1d -o json
  # The five newest cold starts of hello in the last 30 minutes, as YAML
  kn trace coldstarts hello --since 30m --limit 5 -o yaml`,
		Args: maxArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			service := ""
			if len(args) == 1 {
				service = args[0]
				if strings.TrimSpace(service) == "" {
					return usageError("SERVICE is empty: give the Knative Service's name, or none for every Service")
				}
			}
			return runColdStarts(cmd.Context(), g, &f, service)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "only cold starts in this Kubernetes namespace (default: every namespace)")
	cmd.Flags().Var(&f.since, "since", "how far back to look: a duration such as 30m, 2h or 1d")
	cmd.Flags().IntVar(&f.limit, "limit", 20, "the most cold starts to list (p50 and p95 cover all of the window's)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: json or yaml")
	return cmd
}

func runColdStarts(ctx context.Context, g *globals, f *coldStartsFlags, service string) error {
	format, err := parseOutput(f.output)
	if err != nil {
		return err
	}
	if f.limit <= 0 || f.limit > 1000 {
		return usageError("--limit %d: want 1 to 1000", f.limit)
	}
	c, closeJaeger, err := f.dial(ctx, g)
	if err != nil {
		return err
	}
	defer closeJaeger()
	services, err := c.Services(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(services, jaeger.ActivatorService) {
		return fmt.Errorf("jaeger at %s has no spans of the activator (service %q): cold starts are recorded by kntrace's activator; is it installed and tracing?",
			c.Addr(), jaeger.ActivatorService)
	}
	now := time.Now()
	from := now.Add(-time.Duration(f.since))
	raw, err := c.FindTraces(ctx, jaeger.ColdStartQuery(from, now.Add(time.Minute)))
	if err != nil {
		return err
	}
	traces, err := jaeger.BuildAll(raw)
	if err != nil {
		return err
	}
	r := jaeger.NewColdStartReport(traces, jaeger.ColdStartFilter{Service: service, Namespace: f.namespace, From: from, To: now}, f.limit)
	if len(raw) >= jaeger.ColdStartSearchDepth {
		r.Warnings = append(r.Warnings, fmt.Sprintf("Jaeger returned its limit of %d traces: the window may hold more cold starts than these; try a shorter --since", jaeger.ColdStartSearchDepth))
	}
	for _, w := range r.Warnings {
		fmt.Fprintln(g.streams.Err, "Warning:", w)
	}
	if format == "" && r.Count == 0 && len(r.Unmatched) == 0 {
		fmt.Fprintf(g.streams.Err, "No cold starts of %s in the last %s.\n", coldStartsSubject(service, f.namespace), f.since.String())
		return nil
	}
	return writeColdStarts(g.streams.Out, format, r, time.Local)
}

// writeColdStarts writes the report as -o asks, times in loc.
func writeColdStarts(w io.Writer, format outputFormat, r *jaeger.ColdStartReport, loc *time.Location) error {
	if format != "" {
		return writeStructured(w, format, r)
	}
	return jaeger.WriteColdStarts(w, r, loc)
}

func coldStartsSubject(service, namespace string) string {
	s := "any Service"
	if service != "" {
		s = service
	}
	if namespace != "" {
		s += " in namespace " + namespace
	}
	return s
}

// windowFlag is a positive duration: Go's (30m, 2h, 1h30m) or whole days
// (1d, 7d, 1d12h).
type windowFlag time.Duration

var daysPrefix = regexp.MustCompile(`^(\d+)d`)

func (w *windowFlag) Set(s string) error {
	var d time.Duration
	rest := strings.TrimSpace(s)
	if m := daysPrefix.FindStringSubmatch(rest); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 365*100 {
			return fmt.Errorf("%q: want a positive duration such as 30m, 2h or 1d", s)
		}
		d, rest = time.Duration(n)*24*time.Hour, rest[len(m[0]):]
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil {
			return fmt.Errorf("%q: want a positive duration such as 30m, 2h or 1d", s)
		}
		d += more
	}
	if d <= 0 {
		return fmt.Errorf("%q: want a positive duration such as 30m, 2h or 1d", s)
	}
	*w = windowFlag(d)
	return nil
}

// String is the window as it reads best: 1h, 2h30m, 1d, 36h.
func (w *windowFlag) String() string {
	d := time.Duration(*w)
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (w *windowFlag) Type() string { return "duration" }

// maxArgs accepts the named positional arguments or fewer; more is a usage
// error (exit 2).
func maxArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > len(names) {
			return usageError("%s accepts at most %d arg(s) (%s), received %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}
