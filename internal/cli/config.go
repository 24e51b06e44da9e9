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
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

// configFlags are shared by the config subcommands.
type configFlags struct {
	serving, eventing bool
	shape             string
}

func (f *configFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.serving, "serving", false, "act on knative-serving (default: both serving and eventing)")
	cmd.Flags().BoolVar(&f.eventing, "eventing", false, "act on knative-eventing (default: both serving and eventing)")
	cmd.Flags().StringVar(&f.shape, "shape", "auto", "which ConfigMap Knative reads: auto (from the installed version), observability (config-observability, 1.19+) or legacy (config-tracing)")
}

func (f *configFlags) namespaces() []string {
	if f.serving == f.eventing {
		return []string{configmaps.ServingNamespace, configmaps.EventingNamespace}
	}
	if f.serving {
		return []string{configmaps.ServingNamespace}
	}
	return []string{configmaps.EventingNamespace}
}

func (f *configFlags) client(g *globals) (*configmaps.Client, error) {
	shape, err := configmaps.ParseShape(f.shape)
	if err != nil {
		return nil, usageError("--%v", err)
	}
	kube, _, err := g.clients()
	if err != nil {
		return nil, err
	}
	var opts []configmaps.ClientOption
	if shape != "" {
		opts = append(opts, configmaps.WithShape(shape))
	}
	return configmaps.NewClient(kube, opts...), nil
}

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show and change Knative's tracing ConfigMaps safely",
		Long: `Knative reads tracing from config-observability (1.19+) or config-tracing
(before 1.19) in knative-serving and knative-eventing. These commands pick the
right one, refuse settings that would crash Knative or silently export nothing,
touch only the tracing keys, and record what they replaced so that rollback can
restore it. Every change of knative-serving's config-observability rolls the
pods of every revision; use --dry-run to see the diff first.`,
	}
	cmd.AddCommand(newConfigShowCommand(g), newConfigSetCommand(g), newConfigMigrateCommand(g), newConfigRollbackCommand(g))
	return cmd
}

func newConfigShowCommand(g *globals) *cobra.Command {
	var (
		f      configFlags
		output string
	)
	cmd := &cobra.Command{
		Use:     "show",
		Short:   "Show the tracing configuration Knative reads, and its problems",
		Example: "  kn trace config show\n  kn trace config show --serving -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := parseOutput(output)
			if err != nil {
				return err
			}
			c, err := f.client(g)
			if err != nil {
				return err
			}
			var all []*configmaps.Status
			for _, ns := range f.namespaces() {
				st, err := c.Show(cmd.Context(), ns)
				if err != nil {
					return err
				}
				all = append(all, st)
			}
			if format != "" {
				return writeStructured(g.streams.Out, format, all)
			}
			for _, st := range all {
				printStatus(g.streams.Out, st)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	return cmd
}

func printStatus(w io.Writer, st *configmaps.Status) {
	fmt.Fprintf(w, "%s/%s (%s: %s)\n", st.Namespace, st.ConfigMap, st.Shape, st.Reason)
	keys := st.Shape.TracingKeys()
	for _, k := range keys {
		if v, ok := st.Keys[k]; ok {
			fmt.Fprintf(w, "  %-22s %s\n", k+":", v)
		}
	}
	switch {
	case st.Observability != nil:
		fmt.Fprintf(w, "  effective: protocol %s, endpoint %q, sampling rate %s\n", st.Observability.Protocol, st.Observability.Endpoint, fmtRate(st.Observability.SamplingRate))
	case st.Legacy != nil:
		fmt.Fprintf(w, "  effective: backend %s, endpoint %q, sample rate %s, debug %v\n", st.Legacy.Backend, st.Legacy.ZipkinEndpoint, fmtRate(st.Legacy.SampleRate), st.Legacy.Debug)
	}
	if st.Previous != nil {
		fmt.Fprintf(w, "  rollback available (%s)\n", configmaps.PreviousAnnotation)
	}
	for _, p := range st.Problems {
		fmt.Fprintf(w, "  %s: %s\n", strings.ToUpper(string(p.Severity)), p.Error())
	}
}

func fmtRate(r float64) string { return fmt.Sprintf("%g", r) }

type writeFlags struct {
	configFlags
	dryRun            bool
	allowZeroSampling bool
	output            string
}

func (f *writeFlags) register(cmd *cobra.Command) {
	f.configFlags.register(cmd)
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the diff and write nothing")
	cmd.Flags().BoolVar(&f.allowZeroSampling, "allow-zero-sampling", false, "accept an exporting protocol with sampling rate 0 (exports nothing)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: json or yaml (default: a diff)")
}

func (f *writeFlags) options() configmaps.WriteOptions {
	return configmaps.WriteOptions{DryRun: f.dryRun, Check: configmaps.CheckOptions{AllowZeroSampling: f.allowZeroSampling}}
}

// runWrite applies one write per namespace and reports each. Every namespace
// is planned (dry run) before the first write, so invalid input changes
// nothing anywhere.
func runWrite(cmd *cobra.Command, g *globals, f *writeFlags, write func(*configmaps.Client, string, configmaps.WriteOptions) (*configmaps.Result, error)) error {
	format, err := parseOutput(f.output)
	if err != nil {
		return err
	}
	c, err := f.client(g)
	if err != nil {
		return err
	}
	dry := f.options()
	dry.DryRun = true
	for _, ns := range f.namespaces() {
		if _, err := write(c, ns, dry); err != nil {
			return classify(err)
		}
	}
	var results []*configmaps.Result
	for _, ns := range f.namespaces() {
		res, err := write(c, ns, f.options())
		if err != nil {
			return classify(err)
		}
		results = append(results, res)
		if format == "" {
			printResult(g.streams.Out, g.streams.Err, res, f.dryRun)
		}
	}
	if format != "" {
		return writeStructured(g.streams.Out, format, results)
	}
	return nil
}

func classify(err error) error {
	var refused *configmaps.RefusedError
	if errors.As(err, &refused) {
		return &ExitError{Code: ExitRefused, Err: err}
	}
	var usage *configmaps.InputError
	if errors.As(err, &usage) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	return err
}

func printResult(w, errw io.Writer, res *configmaps.Result, dryRun bool) {
	p := res.Plan
	fmt.Fprintf(w, "%s/%s (%s: %s)\n", p.Namespace, p.Name, res.Detection.Shape, res.Detection.Reason)
	for _, pr := range p.Problems {
		fmt.Fprintf(errw, "warning: %s\n", pr.Error())
	}
	if !p.NeedsWrite() {
		fmt.Fprintln(w, "  unchanged: nothing to write, no pods roll")
		return
	}
	fmt.Fprint(w, indent(p.Diff()))
	rolls := "no pods roll (knative-eventing components reload the ConfigMap)"
	if p.RollsPods() {
		rolls = "this rolls the pods of every revision: knative-serving copies this ConfigMap into each queue-proxy's environment"
	} else if !p.DataChanged() {
		rolls = "metadata only: no pods roll"
	}
	if dryRun {
		fmt.Fprintf(w, "  dry run: nothing written; applying it: %s\n", rolls)
		return
	}
	retried := ""
	if res.Conflicts > 0 {
		retried = fmt.Sprintf(", after %d conflicting write(s) retried", res.Conflicts)
	}
	fmt.Fprintf(w, "  written (resourceVersion %s%s); %s\n", res.ResourceVersion, retried, rolls)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ") + "\n"
}

func newConfigSetCommand(g *globals) *cobra.Command {
	var (
		f                  writeFlags
		protocol, endpoint string
		rate               float64
		mode               string
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set the tracing protocol, endpoint, sampling rate and sampling mode",
		Long: `Set changes only the tracing keys of Knative's tracing ConfigMap and refuses,
before writing anything, a configuration that would crash Knative's components
(an endpoint without a scheme that url.Parse rejects), silently use TLS
(host:port becomes https://), or export nothing (a protocol with rate 0).
On a legacy cluster (config-tracing) --protocol is the backend: zipkin or none.

--sampling-mode tail is for the scale-out install (scale-out/): Knative's
components and applications sample every trace (rate 1) and the gateways'
tail sampling keeps every cold start, error and slow trace and a ratio of the
rest. It writes sampling-mode into kntrace's config-kntrace (the webhook then
injects rate 1) and rate 1 into Knative's ConfigMaps; --sampling-mode head
goes back to sampling at the rate where a trace starts.

When kntrace is installed with manage-knative-config on (its default), its
controller keeps Knative's ConfigMaps as config-kntrace says: set then writes
the protocol, endpoint and rate into config-kntrace first, so the controller
keeps them, and refuses --serving or --eventing alone.`,
		Example: `  kn trace config set --protocol grpc --endpoint http://otel-collector.kntrace-system:4317 --sampling-rate 0.1
  kn trace config set --serving --protocol http/protobuf --endpoint http://collector:4318/v1/traces --sampling-rate 1 --dry-run
  kn trace config set --sampling-mode tail
  kn trace config set --sampling-mode head --sampling-rate 0.1
  kn trace config set --protocol none`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var change configmaps.Change
			if cmd.Flags().Changed("protocol") {
				change.Protocol = &protocol
			}
			if cmd.Flags().Changed("endpoint") {
				change.Endpoint = &endpoint
			}
			if cmd.Flags().Changed("sampling-rate") {
				change.SamplingRate = &rate
			}
			var modeSet string
			if cmd.Flags().Changed("sampling-mode") {
				m, err := parseSamplingMode(mode, change.SamplingRate)
				if err != nil {
					return err
				}
				if m == settings.SamplingModeTail {
					one := 1.0
					change.SamplingRate = &one
				}
				modeSet = m
			}
			if change.IsEmpty() && modeSet == "" {
				return usageError("nothing to set: give at least one of --protocol, --endpoint, --sampling-rate, --sampling-mode")
			}
			kube, _, err := g.clients()
			if err != nil {
				return err
			}
			kntrace, data, err := readKntrace(cmd.Context(), kube)
			if err != nil {
				return err
			}
			if modeSet != "" {
				if err := kntrace.set(data, settings.SamplingModeKey, modeSet); err != nil {
					return err
				}
			}
			// A value config-kntrace refuses is reported after Knative's
			// own check of it (the dry run below), whose refusal says what
			// Knative would do with it; either way nothing is written.
			var kntraceErr error
			if kntrace.managed && !change.IsEmpty() {
				if f.serving != f.eventing {
					return usageError("--serving/--eventing: %s/%s has %s on, so kntrace's controller keeps knative-serving and knative-eventing both as it says: set both (leave --serving and --eventing out), or set %s: \"false\" first",
						conventions.SystemNamespace, settings.ConfigName, settings.ManageKnativeConfigKey, settings.ManageKnativeConfigKey)
				}
				for _, kv := range []struct {
					key string
					v   *string
				}{{settings.CollectorProtocolKey, change.Protocol}, {settings.CollectorEndpointKey, change.Endpoint}} {
					if kv.v != nil && kntraceErr == nil {
						kntraceErr = kntrace.set(data, kv.key, *kv.v)
					}
				}
				if change.SamplingRate != nil && kntraceErr == nil {
					kntraceErr = kntrace.set(data, settings.SamplingRateKey, strconv.FormatFloat(*change.SamplingRate, 'g', -1, 64))
				}
			}
			// config-kntrace first (its controller then agrees with what
			// follows), once every Knative ConfigMap's write is planned:
			// a refused change writes nothing anywhere.
			written, applied := false, false
			applyFirst := func() error {
				if f.dryRun || applied {
					return nil
				}
				applied = true
				var err error
				if written, err = applyKntrace(cmd.Context(), kube, kntrace); err != nil {
					return err
				}
				return nil
			}
			if !change.IsEmpty() {
				if err := runWrite(cmd, g, &f, func(c *configmaps.Client, ns string, o configmaps.WriteOptions) (*configmaps.Result, error) {
					if !o.DryRun {
						if err := applyFirst(); err != nil {
							return nil, err
						}
					}
					res, err := c.Set(cmd.Context(), ns, change, o)
					if err == nil && kntraceErr != nil {
						return nil, kntraceErr
					}
					return res, err
				}); err != nil {
					return err
				}
			} else if err := applyFirst(); err != nil {
				return err
			}
			out := g.streams.Out
			if f.output != "" {
				out = g.streams.Err // keep stdout the structured document
			}
			if modeSet != "" || len(kntrace.keys) > 0 {
				printKntrace(out, kntrace, f.dryRun, written)
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&protocol, "protocol", "", "grpc, http/protobuf, none or stdout (legacy: zipkin or none)")
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "collector URL with scheme, e.g. http://otel-collector.kntrace-system:4317 (\"\" removes it)")
	cmd.Flags().Float64Var(&rate, "sampling-rate", 0, "fraction of new traces to sample, in [0, 1]")
	cmd.Flags().StringVar(&mode, "sampling-mode", "", "head (sample at --sampling-rate where a trace starts) or tail (sample every trace; the scale-out gateways decide); written to config-kntrace too")
	return cmd
}

func newConfigMigrateCommand(g *globals) *cobra.Command {
	var (
		f                  writeFlags
		protocol, endpoint string
	)
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Turn a legacy config-tracing into config-observability tracing keys",
		Long: `After an upgrade to Knative 1.19 or later, config-tracing is ignored and
tracing stops. migrate reads config-tracing and writes the equivalent
config-observability keys: backend none becomes protocol none; backend zipkin
becomes the OTLP collector you name, with sample-rate carried over (rate 1 when
debug was on). config-tracing itself is left alone.`,
		Example: "  kn trace config migrate --endpoint http://otel-collector.kntrace-system:4317\n  kn trace config migrate --protocol http/protobuf --endpoint http://collector:4318/v1/traces --dry-run",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWrite(cmd, g, &f, func(c *configmaps.Client, ns string, o configmaps.WriteOptions) (*configmaps.Result, error) {
				return c.Migrate(cmd.Context(), ns, configmaps.MigrateOptions{WriteOptions: o, Protocol: protocol, Endpoint: endpoint})
			})
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&protocol, "protocol", "grpc", "OTLP protocol of the collector: grpc or http/protobuf")
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "the collector's OTLP endpoint (required when the legacy backend is zipkin)")
	return cmd
}

func newConfigRollbackCommand(g *globals) *cobra.Command {
	var f writeFlags
	cmd := &cobra.Command{
		Use:     "rollback",
		Short:   "Restore the tracing keys kntrace's last change replaced",
		Example: "  kn trace config rollback --dry-run\n  kn trace config rollback --serving",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWrite(cmd, g, &f, func(c *configmaps.Client, ns string, o configmaps.WriteOptions) (*configmaps.Result, error) {
				return c.Rollback(cmd.Context(), ns, o)
			})
		},
	}
	f.register(cmd)
	return cmd
}
