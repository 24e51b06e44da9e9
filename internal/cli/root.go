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
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
)

// Exit codes; see the package documentation.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitUsage    = 2
	ExitRefused  = 3
	ExitDiagnose = 4
)

// ExitError carries an exit code with an error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Streams are the command's standard streams.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// globals are the flags every command shares.
type globals struct {
	streams    Streams
	kubeconfig string
	context    string
}

func (g *globals) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if g.kubeconfig != "" {
		rules.ExplicitPath = g.kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: g.context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	return cfg, nil
}

// clients are the Kubernetes and Knative Serving clients of the kubeconfig
// the flags name.
func (g *globals) clients() (kubernetes.Interface, servingclient.Interface, error) {
	cfg, err := g.restConfig()
	if err != nil {
		return nil, nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	serving, err := servingclient.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return kube, serving, nil
}

// NewRootCommand returns `kn trace` with every subcommand.
func NewRootCommand(streams Streams) *cobra.Command {
	g := &globals{streams: streams}
	root := &cobra.Command{
		Use:   "kn-trace",
		Short: "End-to-end tracing for Knative Serving and Eventing",
		Long: `kn trace configures Knative's tracing, turns it on per service, diagnoses the
setup and draws traces from Jaeger as a waterfall. It runs as the kn plugin
"kn trace" or on its own as kn-trace.`,
		Example: `  # Point Knative's tracing at a collector (shows the diff first)
  kn trace config set --protocol grpc --endpoint http://otel-collector.kntrace-system:4317 --sampling-rate 0.1 --dry-run
  # Trace a Knative Service (annotations, injected by kntrace's webhook)
  kn trace enable hello -n demo --sampling-rate 1
  # Recent traces of a service, cold starts only, then one as a waterfall
  kn trace list hello -n demo --coldstart
  kn trace get 4bf92f3577b34da6a3ce929d0e0e4736
  # Where the cold starts of a Service spent their time, with p50 and p95 per phase
  kn trace coldstarts hello -n demo
  # Is everything in place?
  kn trace doctor
  # Jaeger's UI on a local port, through the API server
  kn trace dashboard`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: ExitUsage, Err: err} })
	root.PersistentFlags().StringVar(&g.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	root.PersistentFlags().StringVar(&g.context, "context", "", "the kubeconfig context to use")
	root.AddCommand(newConfigCommand(g), newVersionCommand(g), newListCommand(g), newGetCommand(g), newColdStartsCommand(g), newDoctorCommand(g), newEnableCommand(g), newDisableCommand(g), newDashboardCommand(g))
	return root
}

// Execute runs the CLI with args and returns the process exit code.
func Execute(ctx context.Context, args []string, streams Streams) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(streams.Err, "Error:", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// Main is cmd/kn-trace's body. Ctrl-C (or SIGTERM) ends the running
// command through its context.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}
