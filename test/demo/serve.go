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

package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/tunnel"
	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/cluster"
)

// knTracePlugin is the kn plugin a user puts on PATH as kn-trace.
const knTracePlugin = "github.com/kntrace/kntrace/cmd/kn-trace"

// serve prints how to use the cluster from another shell — kubectl, the
// real kn with the kn-trace plugin, curl through Traefik — opens a tunnel
// to Jaeger's UI through the API server, as `kn trace dashboard` does, and
// keeps both until ctx ends.
func (d *demo) serve(ctx context.Context, traceID string) error {
	kubectl, err := binaries.Kubectl()
	if err != nil {
		return err
	}
	kn, err := binaries.Path(binaries.Kn)
	if err != nil {
		return err
	}
	// The plugin kn finds on PATH, built as the cluster's tests build it.
	plugin, err := d.c.GoBinary(ctx, knTracePlugin)
	if err != nil {
		return err
	}
	var path []string
	for _, p := range []string{kubectl, kn, plugin} {
		if dir := filepath.Dir(p); !slices.Contains(path, dir) {
			path = append(path, dir)
		}
	}
	ui := tunnel.Target{Namespace: conventions.SystemNamespace, Service: conventions.JaegerService, Port: conventions.JaegerQueryHTTPPort}
	tun, err := tunnel.Open(ctx, d.c.Config, d.c.Client, ui)
	if err != nil {
		return fmt.Errorf("open a tunnel to Jaeger's UI: %w", err)
	}
	defer tun.Close()

	d.step("the cluster stays up until Ctrl-C, which stops it and removes everything it made. In another shell:")
	fmt.Fprintf(d.out, `
    export KUBECONFIG=%s
    export PATH=%s:$PATH   # kubectl and kn from hack/tools.sh, the kn-trace plugin
    kubectl get ksvc
    kn trace get %s
    kn trace coldstarts helloworld
    curl -H 'Host: helloworld.%s.%s' http://%s/

    Jaeger's UI: http://%s/ (pod %s/%s through the API server, as kn trace dashboard opens it)
`, d.c.Kubeconfig, strings.Join(path, ":"), traceID,
		sampleNS, cluster.Domain, d.c.IngressAddr, tun.Addr, ui.Namespace, tun.Pod)
	select {
	case <-ctx.Done():
	case err := <-tun.Done():
		fmt.Fprintf(d.out, "\nthe tunnel to Jaeger's UI ended (%v): `kn trace dashboard` opens another\n", err)
		<-ctx.Done()
	}
	fmt.Fprintln(d.out, "\nstopping the cluster…")
	return nil
}
