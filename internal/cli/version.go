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
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is kntrace's version, set at link time with
// -X github.com/kntrace/kntrace/internal/cli.Version=v….
var Version = "devel"

// VersionInfo is what `kn trace version` prints.
type VersionInfo struct {
	Version  string            `json:"version"`
	Go       string            `json:"go"`
	Upstream map[string]string `json:"upstream"`
}

func versionInfo() VersionInfo {
	vi := VersionInfo{Version: Version, Upstream: map[string]string{}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		vi.Go = bi.GoVersion
		for _, m := range bi.Deps {
			switch m.Path {
			case "knative.dev/serving", "knative.dev/eventing", "knative.dev/pkg", "go.opentelemetry.io/otel", "github.com/jaegertracing/jaeger-idl":
				vi.Upstream[m.Path] = m.Version
			}
		}
	}
	return vi
}

func newVersionCommand(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print kntrace's version and the Knative and OpenTelemetry versions it was built with",
		Example: "  kn trace version\n  kn trace version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := parseOutput(output)
			if err != nil {
				return err
			}
			vi := versionInfo()
			if format != "" {
				return writeStructured(g.streams.Out, format, vi)
			}
			fmt.Fprintf(g.streams.Out, "kntrace %s (%s)\n", vi.Version, vi.Go)
			for _, k := range []string{"knative.dev/serving", "knative.dev/eventing", "knative.dev/pkg", "go.opentelemetry.io/otel", "github.com/jaegertracing/jaeger-idl"} {
				if v, ok := vi.Upstream[k]; ok {
					fmt.Fprintf(g.streams.Out, "  %s %s\n", k, v)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	return cmd
}
