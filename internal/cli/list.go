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
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kntrace/kntrace/jaeger"
)

type listFlags struct {
	jaegerFlags
	namespace string
	since     time.Duration
	limit     int
	coldStart bool
	output    string
}

func newListCommand(g *globals) *cobra.Command {
	var f listFlags
	cmd := &cobra.Command{
		Use:   "list SERVICE",
		Short: "List recent traces of a service from Jaeger",
		Long: `List the recent traces Jaeger holds for SERVICE: trace ID, start, duration,
span count, cold start (and how long the request waited for it), root operation
and errors, newest first.

SERVICE is the service name Jaeger shows. For a Knative Service it is the
Service's name: Knative's queue-proxy reports SERVING_SERVICE and kntrace's app
SDK K_SERVICE (OTEL_SERVICE_NAME overrides both); the namespace is not part of
it. Knative's own components report "activator", "controller" and so on; any
name Jaeger knows is accepted. With -n, only traces in which SERVICE's spans
report that namespace (resource attribute k8s.namespace.name) are listed;
spans without the attribute are not filtered out.`,
		Example: `  # The last hour of traces of the Knative Service "hello"
  kn trace list hello
  # Only requests that waited for a scale from zero, in namespace demo, last 10 minutes
  kn trace list hello -n demo --coldstart --since 10m
  # Everything the activator saw, as JSON, from a port-forwarded Jaeger
  kn trace list activator --jaeger 127.0.0.1:16685 -o json`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd.Context(), g, &f, args[0])
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "only traces whose SERVICE spans report this Kubernetes namespace")
	cmd.Flags().DurationVar(&f.since, "since", time.Hour, "how far back to look")
	cmd.Flags().IntVar(&f.limit, "limit", 20, "the most traces to list")
	cmd.Flags().BoolVar(&f.coldStart, "coldstart", false, "only traces with a cold start")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: json or yaml")
	return cmd
}

func runList(ctx context.Context, g *globals, f *listFlags, service string) error {
	format, err := parseOutput(f.output)
	if err != nil {
		return err
	}
	if f.since <= 0 {
		return usageError("--since %v: want a positive duration, e.g. 1h", f.since)
	}
	if f.limit <= 0 || f.limit > 1000 {
		return usageError("--limit %d: want 1 to 1000", f.limit)
	}
	if strings.TrimSpace(service) == "" {
		return usageError("SERVICE is empty: give the service name Jaeger shows, e.g. the Knative Service's name")
	}
	c, closeJaeger, err := f.dial(ctx, g)
	if err != nil {
		return err
	}
	defer closeJaeger()
	traces, err := listTraces(ctx, c, f, service)
	if err != nil {
		return err
	}
	summaries := make([]jaeger.Summary, len(traces))
	for i, t := range traces {
		summaries[i] = t.Summary()
	}
	if format != "" {
		return writeStructured(g.streams.Out, format, summaries)
	}
	if len(summaries) == 0 {
		fmt.Fprintf(g.streams.Err, "No traces of %s in the last %v%s.\n", service, f.since, filterNote(f))
		return nil
	}
	printSummaries(g.streams.Out, summaries)
	return nil
}

func filterNote(f *listFlags) string {
	var parts []string
	if f.namespace != "" {
		parts = append(parts, "in namespace "+f.namespace)
	}
	if f.coldStart {
		parts = append(parts, "with a cold start")
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}

// listTraces queries Jaeger and applies the namespace and cold-start
// filters; the newest trace comes first.
func listTraces(ctx context.Context, c *jaeger.Client, f *listFlags, service string) ([]*jaeger.Trace, error) {
	services, err := c.Services(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(services, service) {
		slices.Sort(services)
		return nil, fmt.Errorf("jaeger at %s has no spans of service %q; it knows: %s", c.Addr(), service, strings.Join(services, ", "))
	}
	// Jaeger's search depth picks which traces it returns, not the newest
	// ones, and filters apply here: ask for many more than shown, then sort.
	depth := min(max(f.limit*5, 200), 1000)
	now := time.Now()
	raw, err := c.FindTraces(ctx, jaeger.Query{Service: service, StartMin: now.Add(-f.since), StartMax: now.Add(time.Minute), Limit: depth})
	if err != nil {
		return nil, err
	}
	all, err := jaeger.BuildAll(raw)
	if err != nil {
		return nil, err
	}
	var out []*jaeger.Trace
	for _, t := range all {
		if f.coldStart && t.ColdStart == nil {
			continue
		}
		if f.namespace != "" && !inNamespace(t, service, f.namespace) {
			continue
		}
		out = append(out, t)
	}
	slices.SortStableFunc(out, func(a, b *jaeger.Trace) int { return b.StartTime.Compare(a.StartTime) })
	if len(out) > f.limit {
		out = out[:f.limit]
	}
	return out, nil
}

// inNamespace: some span of service reports namespace ns, or none of them
// reports a namespace at all.
func inNamespace(t *jaeger.Trace, service, ns string) bool {
	known := false
	for _, s := range t.Spans {
		if s.Service != service {
			continue
		}
		v, ok := s.ProcessTags["k8s.namespace.name"]
		if !ok {
			v, ok = s.Tags["k8s.namespace.name"]
		}
		if !ok {
			continue
		}
		known = true
		if v == ns {
			return true
		}
	}
	return !known
}

func printSummaries(w io.Writer, ss []jaeger.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRACE ID\tSTART\tDURATION\tSPANS\tCOLD START\tROOT\tERRORS")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s %s\t%d\n", s.TraceID, s.StartTime.Local().Format("2006-01-02 15:04:05"),
			jaeger.FormatDuration(time.Duration(s.DurationMicros)*time.Microsecond), s.SpanCount, coldStartCell(s.ColdStart),
			s.RootService, s.RootOperation, s.Errors)
	}
	tw.Flush()
}

func coldStartCell(cs *jaeger.ColdStart) string {
	switch {
	case cs == nil:
		return "-"
	case cs.SpanID == "":
		return "yes"
	}
	return "waited " + jaeger.FormatDuration(time.Duration(cs.WaitMicros)*time.Microsecond)
}

// exactArgs accepts exactly the named positional arguments; anything else is
// a usage error (exit 2).
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			if len(names) == 0 {
				return usageError("%s takes no arguments, got %q", cmd.CommandPath(), args)
			}
			return usageError("%s accepts %d arg(s) (%s), received %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}
