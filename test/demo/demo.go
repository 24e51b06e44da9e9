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
	"strings"

	"github.com/kntrace/kntrace/internal/cli"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
)

// Run starts the control plane, walks through `kn trace config` against it
// and stops everything before it returns.
func Run(ctx context.Context, out io.Writer) error {
	step := func(format string, args ...any) { fmt.Fprintf(out, "\n==> "+format+"\n", args...) }

	step("starting etcd and kube-apiserver v1.35 on loopback")
	srv, err := apiserver.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Fprintf(out, "    API server %s, kubeconfig %s\n", srv.URL, srv.Kubeconfig)

	step("applying Knative Serving and Eventing v0.50.0 (Knative 1.23) CRDs and ConfigMaps from the Go module cache")
	if err := manifests.ApplySets(ctx, srv.Config, manifests.ServingCore, manifests.NetworkingCore, manifests.EventingCore); err != nil {
		return err
	}

	kn := func(args ...string) int {
		fmt.Fprintf(out, "\n$ kn trace %s\n", strings.Join(args, " "))
		code := cli.Execute(ctx, append(args, "--kubeconfig", srv.Kubeconfig), cli.Streams{In: strings.NewReader(""), Out: out, Err: out})
		if code != 0 {
			fmt.Fprintf(out, "(exit status %d)\n", code)
		}
		return code
	}
	expect := func(code, want int) error {
		if code != want {
			return fmt.Errorf("kn trace exited %d, want %d", code, want)
		}
		return nil
	}

	step("what Knative ships: tracing off")
	if err := expect(kn("config", "show"), cli.ExitOK); err != nil {
		return err
	}
	step("an endpoint Knative's own webhook accepts but that crash-loops every component: refused, nothing written")
	if err := expect(kn("config", "set", "--protocol", "grpc", "--endpoint", "10.0.0.1:4317", "--sampling-rate", "1"), cli.ExitRefused); err != nil {
		return err
	}
	step("a protocol without a sampling rate exports nothing: refused")
	if err := expect(kn("config", "set", "--protocol", "grpc", "--endpoint", "http://otel-collector.kntrace-system:4317"), cli.ExitRefused); err != nil {
		return err
	}
	step("the diff first (dry run)")
	setArgs := []string{"config", "set", "--protocol", "grpc", "--endpoint", "http://otel-collector.kntrace-system:4317", "--sampling-rate", "1"}
	if err := expect(kn(append(setArgs, "--dry-run")...), cli.ExitOK); err != nil {
		return err
	}
	step("then the change: one write per ConfigMap")
	if err := expect(kn(setArgs...), cli.ExitOK); err != nil {
		return err
	}
	step("the same change again writes nothing, so no pods roll")
	if err := expect(kn(setArgs...), cli.ExitOK); err != nil {
		return err
	}
	step("the result")
	if err := expect(kn("config", "show"), cli.ExitOK); err != nil {
		return err
	}
	step("and back to exactly what was there")
	if err := expect(kn("config", "rollback"), cli.ExitOK); err != nil {
		return err
	}
	return expect(kn("config", "show", "--serving", "-o", "yaml"), cli.ExitOK)
}
