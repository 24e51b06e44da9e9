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
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/cli"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/settings"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
)

// TestEnableDisableWithoutWebhook: with no kntrace webhook installed, enable
// patches the template itself through revisions, reading config-kntrace, and
// disable restores it exactly (the webhook case is tested in package
// webhook, against the webhook process).
func TestEnableDisableWithoutWebhook(t *testing.T) {
	srv := apiserver.StartForTest(t)
	ctx := context.Background()
	installKntrace(t, srv, manifests.ServingCore)
	// config-kntrace says kntrace's queue-proxy is installed: the patch must
	// point applications at the relay, proving the CLI read it.
	cms := srv.Client.CoreV1().ConfigMaps(conventions.SystemNamespace)
	cm, err := cms.Get(ctx, settings.ConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data[settings.KntraceQueueProxyKey] = "true"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	serving, err := servingclient.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	services := serving.ServingV1().Services("default")
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello"}}
	svc.Spec.Template.Spec.Containers = []corev1.Container{{Image: "example.com/hello", Env: []corev1.EnvVar{{Name: conventions.EnvServiceName, Value: "mine"}}}}
	orig, err := services.Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	r := knTrace(srv.Kubeconfig, "enable", "hello", "-n", "default", "--sampling-rate", "0.5", "--propagators", "B3,tracecontext", "-o", "json")
	if r.code != cli.ExitOK {
		t.Fatalf("enable: exit %d: %s %s", r.code, r.out, r.errOut)
	}
	var res cli.EnableResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("enable -o json: %v\n%s", err, r.out)
	}
	if res.Mode != cli.ModeDirect || !res.Changed || !res.Injected {
		t.Errorf("enable result %+v: want mode direct, changed, injected", res)
	}
	first, err := services.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The same template the webhook would make from the same annotations.
	want := orig.DeepCopy()
	want.Spec.Template.Annotations = map[string]string{conventions.InjectAnnotation: "true", conventions.SamplingRateAnnotation: "0.5", conventions.PropagatorsAnnotation: "b3,tracecontext"}
	wantCfg := settings.DefaultConfig()
	wantCfg.KntraceQueueProxy = true
	if _, err := revisions.Patch(revisions.ServiceTarget(want), revisions.WithConfig(wantCfg), revisions.WithVersion(cli.Version)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Spec.Template, first.Spec.Template); diff != "" {
		t.Errorf("template after enable (-revisions.Patch +stored):\n%s", diff)
	}
	env := map[string]string{}
	for _, e := range first.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	if env[conventions.EnvEndpoint] != conventions.RelayEndpoint || env[conventions.EnvServiceName] != "mine" {
		t.Errorf("env %v: want the relay endpoint and the user's own service name", env)
	}

	r = knTrace(srv.Kubeconfig, "enable", "hello", "-n", "default", "--sampling-rate", "0.5", "--propagators", "b3,tracecontext")
	if r.code != cli.ExitOK || !strings.Contains(r.out, "unchanged") {
		t.Errorf("second enable: exit %d, output %q; want unchanged", r.code, r.out)
	}
	second, err := services.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.Generation != first.Generation || second.ResourceVersion != first.ResourceVersion {
		t.Errorf("second enable changed generation %d → %d, resourceVersion %s → %s", first.Generation, second.Generation, first.ResourceVersion, second.ResourceVersion)
	}

	if r := knTrace(srv.Kubeconfig, "disable", "hello", "-n", "default"); r.code != cli.ExitOK || !strings.Contains(r.out, "directly") {
		t.Fatalf("disable: exit %d: %q %s", r.code, r.out, r.errOut)
	}
	after, err := services.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orig.Spec.Template, after.Spec.Template); diff != "" {
		t.Errorf("disable did not restore the template (-before +after):\n%s", diff)
	}
}

func TestEnableRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{name: "rate above one", args: []string{"enable", "hello", "-n", "x", "--sampling-rate", "2"}, want: "--sampling-rate", code: cli.ExitUsage},
		{name: "unknown propagator", args: []string{"enable", "hello", "-n", "x", "--propagators", "w3c"}, want: "b3multi", code: cli.ExitUsage},
		{name: "no service", args: []string{"enable", "-n", "x"}, want: "SERVICE", code: cli.ExitUsage},
		{name: "bad output", args: []string{"disable", "hello", "-n", "x", "-o", "xml"}, want: "-o", code: cli.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := knTrace(filepath.Join(t.TempDir(), "no-kubeconfig"), tt.args...)
			if r.code != tt.code || !strings.Contains(r.errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", r.code, r.errOut, tt.code, tt.want)
			}
		})
	}
}
