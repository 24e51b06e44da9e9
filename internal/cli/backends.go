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
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/tunnel"
	"github.com/kntrace/kntrace/jaeger"
)

// defaultJaegerService is the Jaeger query API kn trace reaches through the
// API server when no address is given: the one config/ installs.
const defaultJaegerService = conventions.SystemNamespace + "/" + conventions.JaegerService + ":" + conventions.JaegerQueryGRPCPort

// jaegerFlags are shared by list, get and doctor. kn trace finds Jaeger's
// query gRPC API at --jaeger, else $KNTRACE_JAEGER, else through the API
// server at --jaeger-service (as kubectl port-forward would).
type jaegerFlags struct {
	addr    string
	service string
	timeout time.Duration
}

func (f *jaegerFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.addr, "jaeger", "", "host:port of Jaeger's query gRPC API (default $"+conventions.EnvJaeger+", else --jaeger-service through the API server)")
	cmd.Flags().StringVar(&f.service, "jaeger-service", defaultJaegerService, "NAMESPACE/SERVICE:PORT of Jaeger's query gRPC API in the cluster, reached through the API server when --jaeger and $"+conventions.EnvJaeger+" are unset")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "bound on each call to Jaeger")
}

// address is --jaeger, else $KNTRACE_JAEGER; "" means the cluster's.
func (f *jaegerFlags) address(getenv func(string) string) string {
	return cmp.Or(f.addr, getenv(conventions.EnvJaeger))
}

// target is --jaeger-service, checked.
func (f *jaegerFlags) target() (tunnel.Target, error) {
	t, ok := tunnel.ParseTarget(f.service)
	if !ok {
		return tunnel.Target{}, usageError("--jaeger-service %q: want NAMESPACE/SERVICE:PORT, e.g. %s", f.service, defaultJaegerService)
	}
	return t, nil
}

// dial connects to Jaeger, through a tunnel when no address is given; the
// returned func closes the client and the tunnel.
func (f *jaegerFlags) dial(ctx context.Context, g *globals) (*jaeger.Client, func(), error) {
	if f.timeout <= 0 {
		return nil, nil, usageError("--timeout %v: want a positive duration", f.timeout)
	}
	addr, closeTunnel := f.address(os.Getenv), func() {}
	if addr == "" {
		t, err := f.target()
		if err != nil {
			return nil, nil, err
		}
		tun, err := g.tunnel(ctx, t)
		if err != nil {
			return nil, nil, fmt.Errorf("reach Jaeger: %w (or pass --jaeger HOST:PORT)", err)
		}
		addr, closeTunnel = tun.Addr, func() { _ = tun.Close() }
	}
	c, err := jaeger.Dial(ctx, addr, jaeger.WithCallTimeout(f.timeout), jaeger.WithDialTimeout(f.timeout))
	if err != nil {
		closeTunnel()
		return nil, nil, err
	}
	return c, func() { c.Close(); closeTunnel() }, nil
}

// tunnel opens a forward to a Service through the API server of the
// kubeconfig the flags name.
func (g *globals) tunnel(ctx context.Context, t tunnel.Target) (*tunnel.Tunnel, error) {
	cfg, err := g.restConfig()
	if err != nil {
		return nil, err
	}
	kube, _, err := g.clients()
	if err != nil {
		return nil, err
	}
	return tunnel.Open(ctx, cfg, kube, t)
}
