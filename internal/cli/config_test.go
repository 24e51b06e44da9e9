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
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/internal/cli"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
)

type run struct {
	code        int
	out, errOut string
}

func knTrace(kubeconfig string, args ...string) run {
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), append(args, "--kubeconfig", kubeconfig), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return run{code: code, out: out.String(), errOut: errOut.String()}
}

func TestConfigCommandsOnARealAPIServer(t *testing.T) {
	srv := apiserver.StartForTest(t)
	if err := manifests.ApplySets(context.Background(), srv.Config, manifests.ServingCore, manifests.EventingCore); err != nil {
		t.Fatal(err)
	}
	rv := func(ns string) string {
		cm, err := srv.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), configmaps.ObservabilityConfigName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.ResourceVersion
	}
	servingRV, eventingRV := rv(configmaps.ServingNamespace), rv(configmaps.EventingNamespace)
	set := []string{"config", "set", "--protocol", "grpc", "--endpoint", "http://otel-collector.kntrace-system:4317", "--sampling-rate", "0.5"}

	t.Run("bad output format is a usage error", func(t *testing.T) {
		if r := knTrace(srv.Kubeconfig, "config", "show", "-o", "xml"); r.code != cli.ExitUsage || !strings.Contains(r.errOut, "want json or yaml") {
			t.Errorf("exit %d, stderr %q; want %d and the accepted formats", r.code, r.errOut, cli.ExitUsage)
		}
	})
	t.Run("refused in one namespace writes in none", func(t *testing.T) {
		r := knTrace(srv.Kubeconfig, "config", "set", "--protocol", "grpc", "--endpoint", "10.0.0.1:4317", "--sampling-rate", "1")
		if r.code != cli.ExitRefused || !strings.Contains(r.errOut, "tracing-endpoint \"10.0.0.1:4317\"") || !strings.Contains(r.errOut, "http://10.0.0.1:4317") {
			t.Errorf("exit %d, stderr %q; want %d naming tracing-endpoint and the fix", r.code, r.errOut, cli.ExitRefused)
		}
		if rv(configmaps.ServingNamespace) != servingRV || rv(configmaps.EventingNamespace) != eventingRV {
			t.Error("a refused set wrote a ConfigMap")
		}
	})
	t.Run("dry run prints the diff and writes nothing", func(t *testing.T) {
		r := knTrace(srv.Kubeconfig, append(set, "--dry-run")...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		for _, want := range []string{`+  tracing-protocol: "grpc"`, `+  tracing-sampling-rate: "0.5"`, "dry run: nothing written", "rolls the pods of every revision"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("dry-run output lacks %q:\n%s", want, r.out)
			}
		}
		if rv(configmaps.ServingNamespace) != servingRV {
			t.Error("--dry-run wrote")
		}
	})
	t.Run("set writes once, then not again", func(t *testing.T) {
		if r := knTrace(srv.Kubeconfig, set...); r.code != 0 || !strings.Contains(r.out, "written (resourceVersion") {
			t.Fatalf("exit %d, out %q, err %q", r.code, r.out, r.errOut)
		}
		written := rv(configmaps.ServingNamespace)
		if written == servingRV {
			t.Fatal("set did not write")
		}
		if r := knTrace(srv.Kubeconfig, set...); r.code != 0 || !strings.Contains(r.out, "unchanged: nothing to write") {
			t.Errorf("second set: exit %d, out %q", r.code, r.out)
		}
		if rv(configmaps.ServingNamespace) != written {
			t.Error("an unchanged set wrote again")
		}
	})
	t.Run("show -o json", func(t *testing.T) {
		r := knTrace(srv.Kubeconfig, "config", "show", "-o", "json")
		var got []configmaps.Status
		if err := json.Unmarshal([]byte(r.out), &got); err != nil || r.code != 0 {
			t.Fatalf("exit %d, output not JSON (%v):\n%s", r.code, err, r.out)
		}
		if len(got) != 2 || got[0].Observability == nil || got[0].Observability.SamplingRate != 0.5 || got[1].Keys[configmaps.ProtocolKey] != "grpc" {
			t.Errorf("show = %+v", got)
		}
	})
	t.Run("rollback restores both", func(t *testing.T) {
		if r := knTrace(srv.Kubeconfig, "config", "rollback"); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		r := knTrace(srv.Kubeconfig, "config", "show", "-o", "json")
		var got []configmaps.Status
		if err := json.Unmarshal([]byte(r.out), &got); err != nil {
			t.Fatal(err)
		}
		for _, st := range got {
			if len(st.Keys) != 0 || st.Previous != nil {
				t.Errorf("%s after rollback: keys %v previous %v, want none", st.Namespace, st.Keys, st.Previous)
			}
		}
		if r := knTrace(srv.Kubeconfig, "config", "rollback", "--serving"); r.code != cli.ExitFailure || !strings.Contains(r.errOut, "nothing to roll back") {
			t.Errorf("second rollback: exit %d, %q", r.code, r.errOut)
		}
	})
}

func TestUnreachableClusterIsAFailure(t *testing.T) {
	r := knTrace("/nonexistent/kubeconfig", "config", "show")
	if r.code != cli.ExitFailure || !strings.Contains(r.errOut, "kubeconfig") {
		t.Errorf("exit %d, stderr %q; want %d and a kubeconfig error", r.code, r.errOut, cli.ExitFailure)
	}
}

func TestDoctorRefusesAnUnknownShape(t *testing.T) {
	r := knTrace("/nonexistent/kubeconfig", "doctor", "--shape", "v2")
	if r.code != cli.ExitUsage || !strings.Contains(r.errOut, "want one of auto, observability") {
		t.Errorf("exit %d, stderr %q; want %d naming the accepted shapes", r.code, r.errOut, cli.ExitUsage)
	}
}
