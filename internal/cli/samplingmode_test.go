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

package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/cli"
	"github.com/kntrace/kntrace/settings"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
)

// TestConfigSetSamplingMode: --sampling-mode tail writes sampling-mode into
// config-kntrace and rate 1 into Knative's ConfigMaps; bad input is refused
// naming the flag and changes nothing.
func TestConfigSetSamplingMode(t *testing.T) {
	srv := apiserver.StartForTest(t)
	ctx := context.Background()
	installKntrace(t, srv, manifests.ServingCore, manifests.EventingCore)
	state := func() (string, string) {
		t.Helper()
		k, err := srv.Client.CoreV1().ConfigMaps(conventions.SystemNamespace).Get(ctx, settings.ConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o, err := srv.Client.CoreV1().ConfigMaps(configmaps.ServingNamespace).Get(ctx, configmaps.ObservabilityConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return k.ResourceVersion + "/" + k.Data[settings.SamplingModeKey], o.ResourceVersion + "/" + o.Data[configmaps.SamplingRateKey]
	}
	k0, o0 := state()

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown mode", args: []string{"--sampling-mode", "adaptive"}, want: `--sampling-mode "adaptive": want head`},
		{name: "a head rate with tail mode", args: []string{"--sampling-mode", "tail", "--sampling-rate", "0.1"}, want: "--sampling-rate 0.1 with --sampling-mode tail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := knTrace(srv.Kubeconfig, append([]string{"config", "set"}, tc.args...)...)
			if r.code != cli.ExitUsage || !strings.Contains(r.errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.errOut, cli.ExitUsage, tc.want)
			}
			if k, o := state(); k != k0 || o != o0 {
				t.Errorf("refused input wrote: config-kntrace %s → %s, config-observability %s → %s", k0, k, o0, o)
			}
		})
	}

	t.Run("dry run", func(t *testing.T) {
		r := knTrace(srv.Kubeconfig, "config", "set", "--protocol", "grpc", "--endpoint", "http://otel-collector.kntrace-system:4317", "--sampling-mode", "tail", "--dry-run")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		for _, want := range []string{`+  tracing-sampling-rate: "1"`, `+  sampling-mode: "tail"`, "dry run: nothing written"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("output lacks %q:\n%s", want, r.out)
			}
		}
		if k, o := state(); k != k0 || o != o0 {
			t.Error("--dry-run wrote")
		}
	})
	t.Run("tail, then head again", func(t *testing.T) {
		r := knTrace(srv.Kubeconfig, "config", "set", "--protocol", "grpc", "--endpoint", "http://otel-collector.kntrace-system:4317", "--sampling-mode", "tail")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		k, o := state()
		if diff := cmp.Diff([]string{"tail", "1"}, []string{after(k), after(o)}); diff != "" {
			t.Errorf("after --sampling-mode tail, (sampling-mode, tracing-sampling-rate) (-want +got):\n%s", diff)
		}
		r = knTrace(srv.Kubeconfig, "config", "set", "--sampling-mode", "head", "--sampling-rate", "0.25")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		k, o = state()
		if diff := cmp.Diff([]string{"head", "0.25"}, []string{after(k), after(o)}); diff != "" {
			t.Errorf("after --sampling-mode head --sampling-rate 0.25 (-want +got):\n%s", diff)
		}
	})
}

// installKntrace applies Knative's sets and kntrace's namespace and
// config-kntrace from config/ (no webhook) to srv.
func installKntrace(t *testing.T, srv *apiserver.Server, sets ...manifests.Set) {
	t.Helper()
	ctx := context.Background()
	if err := manifests.ApplySets(ctx, srv.Config, sets...); err != nil {
		t.Fatal(err)
	}
	a, err := manifests.NewApplier(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"100-namespace.yaml", "300-config-kntrace.yaml"} {
		objs, err := manifests.ReadFile(filepath.Join("..", "..", "config", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Apply(ctx, objs); err != nil {
			t.Fatal(err)
		}
	}
}

func after(s string) string {
	_, v, _ := strings.Cut(s, "/")
	return v
}

// TestConfigSetWritesConfigKntraceWhenManaged: with kntrace installed and
// manage-knative-config on, its controller keeps Knative's ConfigMaps as
// config-kntrace says, so set writes the rate, protocol and endpoint there
// too (found on the real cluster: otherwise the controller undid kn's write
// within a second); --serving alone is refused, naming the key, and
// changes nothing.
func TestConfigSetWritesConfigKntraceWhenManaged(t *testing.T) {
	srv := apiserver.StartForTest(t)
	ctx := context.Background()
	installKntrace(t, srv, manifests.ServingCore, manifests.EventingCore)
	read := func() (kntrace map[string]string, versions string) {
		t.Helper()
		k, err := srv.Client.CoreV1().ConfigMaps(conventions.SystemNamespace).Get(ctx, settings.ConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		o, err := srv.Client.CoreV1().ConfigMaps(configmaps.ServingNamespace).Get(ctx, configmaps.ObservabilityConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return k.Data, k.ResourceVersion + "/" + o.ResourceVersion + "/" + o.Data[configmaps.SamplingRateKey]
	}
	_, v0 := read()
	r := knTrace(srv.Kubeconfig, "config", "set", "--serving", "--sampling-rate", "0.3")
	if r.code != cli.ExitUsage || !strings.Contains(r.errOut, "--serving") || !strings.Contains(r.errOut, settings.ManageKnativeConfigKey) {
		t.Errorf("--serving alone: exit %d, stderr %q; want %d naming --serving and %s", r.code, r.errOut, cli.ExitUsage, settings.ManageKnativeConfigKey)
	}
	if _, v := read(); v != v0 {
		t.Errorf("the refused --serving wrote: %s → %s", v0, v)
	}
	// An endpoint Knative would crash-loop on is refused as on an install
	// without kntrace, by Knative's check naming the fix (found on the
	// real cluster by make demo: config-kntrace's own check answered
	// first, as a usage error), and nothing is written.
	r = knTrace(srv.Kubeconfig, "config", "set", "--protocol", "grpc", "--endpoint", "10.0.0.1:4317", "--sampling-rate", "1")
	if r.code != cli.ExitRefused || !strings.Contains(r.errOut, `tracing-endpoint "10.0.0.1:4317"`) || !strings.Contains(r.errOut, "http://10.0.0.1:4317") {
		t.Errorf("--protocol grpc --endpoint 10.0.0.1:4317: exit %d, stderr %q; want %d naming tracing-endpoint and the fix", r.code, r.errOut, cli.ExitRefused)
	}
	if _, v := read(); v != v0 {
		t.Errorf("the refused endpoint wrote: %s → %s", v0, v)
	}

	r = knTrace(srv.Kubeconfig, "config", "set", "--protocol", "grpc", "--endpoint", "http://otel-collector.kntrace-system:4317", "--sampling-rate", "0.5")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	k, v := read()
	got := []string{k[settings.SamplingRateKey], k[settings.CollectorProtocolKey], k[settings.CollectorEndpointKey], v[strings.LastIndex(v, "/")+1:]}
	if diff := cmp.Diff([]string{"0.5", "grpc", "http://otel-collector.kntrace-system:4317", "0.5"}, got); diff != "" {
		t.Errorf("config-kntrace (rate, protocol, endpoint) and config-observability's rate (-want +got):\n%s\noutput:\n%s", diff, r.out)
	}
	if !strings.Contains(r.out, `+  sampling-rate: "0.5"`) {
		t.Errorf("output does not show config-kntrace's change:\n%s", r.out)
	}
}
