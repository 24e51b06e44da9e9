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

	"github.com/spf13/cobra"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/tunnel"
)

// defaultJaegerUIService is Jaeger's UI in the cluster, as config/ installs it.
const defaultJaegerUIService = conventions.SystemNamespace + "/" + conventions.JaegerService + ":" + conventions.JaegerQueryHTTPPort

func newDashboardCommand(g *globals) *cobra.Command {
	var service string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Open Jaeger's UI on a local port, through the API server",
		Long: `Forward a local port (on 127.0.0.1) to Jaeger's query UI in the cluster through
the API server, as kubectl port-forward does, print its URL and keep the tunnel
open until interrupted (Ctrl-C). Nothing in the cluster changes.`,
		Example: `  kn trace dashboard
  # Jaeger of your own
  kn trace dashboard --service observability/jaeger-query:16686`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, ok := tunnel.ParseTarget(service)
			if !ok {
				return usageError("--service %q: want NAMESPACE/SERVICE:PORT, e.g. %s", service, defaultJaegerUIService)
			}
			tun, err := g.tunnel(cmd.Context(), t)
			if err != nil {
				return fmt.Errorf("reach Jaeger's UI: %w", err)
			}
			defer tun.Close()
			fmt.Fprintf(g.streams.Out, "Jaeger UI: http://%s/ (pod %s/%s through the API server; Ctrl-C stops)\n", tun.Addr, t.Namespace, tun.Pod)
			select {
			case <-cmd.Context().Done():
				return nil
			case err := <-tun.Done():
				if err != nil {
					return fmt.Errorf("tunnel to %s ended: %w", t, err)
				}
				return fmt.Errorf("tunnel to %s ended", t)
			}
		},
	}
	cmd.Flags().StringVar(&service, "service", defaultJaegerUIService, "NAMESPACE/SERVICE:PORT of Jaeger's query UI (HTTP)")
	return cmd
}
