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

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
)

// TestOverlayPatchesKnativeActivator applies config/overlays/activator's
// patch, as its comment says (with ko's image resolved to a plain name), to
// Knative's own activator Deployment in a real API server: only the image,
// one env var and one pod label change.
func TestOverlayPatchesKnativeActivator(t *testing.T) {
	const image = "registry.example/kntrace/activator@sha256:0000000000000000000000000000000000000000000000000000000000000000"
	_, file, _, _ := runtime.Caller(0)
	patch, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "config", "overlays", "activator", "activator.patch"))
	if err != nil {
		t.Fatal(err)
	}
	patch = bytes.ReplaceAll(patch, []byte("ko://github.com/kntrace/kntrace/cmd/activator"), []byte(image))
	patchJSON, err := yaml.YAMLToJSON(patch)
	if err != nil {
		t.Fatalf("the patch is not YAML: %v", err)
	}

	upstream := knativeActivatorDeployment(t)
	srv := apiserver.StartForTest(t)
	ctx := context.Background()
	if _, err := srv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "knative-serving"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := srv.Client.AppsV1().Deployments("knative-serving").Create(ctx, upstream, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := srv.Client.AppsV1().Deployments("knative-serving").Patch(ctx, "activator", types.StrategicMergePatchType, patchJSON, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("kubectl patch --type=strategic with the overlay: %v", err)
	}

	want := before.Spec.DeepCopy()
	want.Template.Labels["kntrace.dev/activator"] = "kntrace"
	c := &want.Template.Spec.Containers[0]
	c.Image = image
	// A strategic merge puts list entries it adds first.
	c.Env = append([]corev1.EnvVar{
		{Name: "OTEL_PROPAGATORS", Value: "tracecontext,baggage"},
		{Name: conventions.EnvPodstart, Value: "http://" + conventions.PodstartName + "." + conventions.SystemNamespace + ".svc.cluster.local:8080"},
	}, c.Env...)
	if diff := cmp.Diff(*want, after.Spec); diff != "" {
		t.Errorf("Deployment spec after the patch (-want +got):\n%s", diff)
	}
	if got := after.Labels["app.kubernetes.io/part-of"]; got != "kntrace" {
		t.Errorf("label app.kubernetes.io/part-of = %q, want kntrace", got)
	}
}

// knativeActivatorDeployment is the activator Deployment of Knative Serving
// v0.50.0's config/core/deployments/activator.yaml, its ko:// image
// resolved to a plain name.
func knativeActivatorDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	dir, err := manifests.ModuleDir(context.Background(), "knative.dev/serving", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config", "core", "deployments", "activator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(b, []byte("\n---"))
	first = bytes.ReplaceAll(first, []byte("ko://knative.dev/serving/cmd/activator"), []byte("gcr.io/knative-releases/knative.dev/serving/cmd/activator:v1.23.0"))
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(first, &d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "activator" || len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("unexpected Deployment %s with %d containers", d.Name, len(d.Spec.Template.Spec.Containers))
	}
	return &d
}
