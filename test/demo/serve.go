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
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/tunnel"
	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/cluster"
)

// knTracePlugin is the kn plugin a user puts on PATH as kn-trace.
const knTracePlugin = "github.com/kntrace/kntrace/cmd/kn-trace"

// serve prints how to use the cluster from another shell — kubectl, the
// real kn with the kn-trace plugin, curl through Traefik — opens a tunnel
// to Jaeger's query HTTP port (its UI and API) through the API server, as
// `kn trace dashboard` does, and keeps both until ctx ends.
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
		return fmt.Errorf("open a tunnel to Jaeger's query HTTP port: %w", err)
	}
	defer tun.Close()

	jaeger := fmt.Sprintf("Jaeger's UI: http://%s/", tun.Addr)
	if ok, err := servesJaegerUI(ctx, tun.Addr); err != nil {
		return err
	} else if !ok {
		jaeger = fmt.Sprintf(`curl http://%[1]s/api/traces/%[2]s   # Jaeger's query API
    # Its UI at http://%[1]s/ is Jaeger's placeholder page: the Jaeger hack/tools.sh builds from its
    # Go module has no UI assets. The waterfall as a page instead:
    kn trace get %[2]s -o html > trace.html`, tun.Addr, traceID)
	}

	d.step("the cluster stays up until Ctrl-C, which stops it and removes everything it made. In another shell:")
	fmt.Fprintf(d.out, `
    export KUBECONFIG=%s
    export PATH=%s:$PATH   # kubectl and kn from hack/tools.sh, the kn-trace plugin
    kubectl get ksvc
    kn trace get %s
    kn trace coldstarts helloworld
    curl -H 'Host: helloworld.%s.%s' http://%s/

    # Jaeger through the API server (pod %s/%s), as kn trace dashboard reaches it:
    %s
`, d.c.Kubeconfig, strings.Join(path, ":"), traceID,
		sampleNS, cluster.Domain, d.c.IngressAddr, ui.Namespace, tun.Pod, jaeger)
	select {
	case <-ctx.Done():
	case err := <-tun.Done():
		fmt.Fprintf(d.out, "\nthe tunnel to Jaeger ended (%v): `kn trace dashboard` opens another\n", err)
		<-ctx.Done()
	}
	fmt.Fprintln(d.out, "\nstopping the cluster…")
	return nil
}

// jaegerPlaceholder is in the page a Jaeger built without its UI's assets
// serves at / (the UI is an npm build of its own, not in the Go module).
const jaegerPlaceholder = "not compiled with the UI assets"

// servesJaegerUI reports whether the Jaeger at addr serves its UI rather
// than the placeholder page.
func servesJaegerUI(ctx context.Context, addr string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return false, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return false, fmt.Errorf("Jaeger through the tunnel at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, fmt.Errorf("Jaeger through the tunnel at %s: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("Jaeger through the tunnel at %s: GET / answered %s", addr, resp.Status)
	}
	return !strings.Contains(string(body), jaegerPlaceholder), nil
}
