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
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/doctor"
)

type doctorFlags struct {
	jaegerFlags
	namespace string
	collector string
	output    string
	shape     string
}

func newDoctorCommand(g *globals) *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Diagnose Knative's tracing setup, the collector, Jaeger and kntrace",
		Long: `Check everything a trace depends on and print one pass/warn/fail line per
check, each failure with its fix:

  - the Knative version and which ConfigMap shape it reads (config-observability
    since 1.19, config-tracing before)
  - every tracing configuration hazard (an endpoint that crash-loops Knative, a
    scheme-less endpoint that silently becomes https, a protocol with rate 0, a
    gRPC/HTTP path mismatch, legacy keys Knative ignores)
  - OTEL_TRACES_SAMPLER_ARG without OTEL_TRACES_SAMPLER on Knative's Deployments
    (a failure) and on Services' containers (a warning)
  - the collector (from config-observability's endpoint, or --collector) and
    Jaeger (--jaeger, else --jaeger-service) answer; a Service that resolves
    only inside the cluster is reached through the API server, as kubectl
    port-forward does
  - kntrace's webhook is installed, ready and answering (a dry-run Service)
  - kntrace's queue-proxy and activator are installed
  - which collector install runs (one collector, or scale-out agents and
    gateways) and, for scale-out: agents ready and reachable, the gateways the
    agents resolve, a tail_sampling policy keeping every cold start, the
    persistent queues on writable volumes, the sampling mode, Jaeger's store
  - Services asking for injection (` + conventions.InjectAnnotation + `: "true") whose template lacks
    ` + conventions.EnvEndpoint + ` (the webhook was not running when they were applied)
  - config-features queueproxy.mount-podinfo

Exit status 4 when any check fails.`,
		Example: `  kn trace doctor
  # Services of one namespace only, with a collector and Jaeger of your own
  kn trace doctor -n demo --collector 10.0.0.7:4317 --jaeger 10.0.0.8:16685
  kn trace doctor -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := parseOutput(f.output)
			if err != nil {
				return err
			}
			if f.timeout <= 0 {
				return usageError("--timeout %v: want a positive duration", f.timeout)
			}
			if _, err := configmaps.ParseShape(f.shape); err != nil {
				return usageError("--%v", err)
			}
			kube, serving, err := g.clients()
			if err != nil {
				return err
			}
			jaegerService, err := f.target()
			if err != nil {
				return err
			}
			report := doctor.Run(cmd.Context(), kube, serving, doctor.Options{
				Namespace: f.namespace, Collector: f.collector, Shape: f.shape, Timeout: f.timeout,
				Jaeger: f.address(os.Getenv), JaegerService: jaegerService, Tunnel: g.tunnel,
			})
			if format != "" {
				if err := writeStructured(g.streams.Out, format, report); err != nil {
					return err
				}
			} else {
				printReport(g.streams.Out, report)
			}
			if report.Failures > 0 {
				return &ExitError{Code: ExitDiagnose, Err: fmt.Errorf("%d of %d checks failed", report.Failures, len(report.Checks))}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace of the Services to check, and of the webhook's dry-run probe (default: Services of all namespaces, probe in default)")
	cmd.Flags().StringVar(&f.collector, "collector", "", "collector endpoint to probe (URL or host:port; default: config-observability's tracing-endpoint)")
	cmd.Flags().StringVar(&f.shape, "shape", "auto", "which ConfigMap Knative reads: auto (from the installed version), observability (config-observability, 1.19+) or legacy (config-tracing)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: json or yaml")
	return cmd
}

func printReport(w io.Writer, r *doctor.Report) {
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-4s  %s: %s\n", strings.ToUpper(string(c.Status)), c.Name, c.Message)
		if c.Fix != "" && c.Status != doctor.StatusPass {
			fmt.Fprintf(w, "      fix: %s\n", c.Fix)
		}
	}
	fmt.Fprintf(w, "\n%d passed, %d warnings, %d failed\n", r.Passed, r.Warnings, r.Failures)
}
