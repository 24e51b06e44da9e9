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
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/serving/pkg/deployment"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
)

const koImage = "ko://github.com/kntrace/kntrace/cmd/queue"

// TestOverlayPatchesConfigDeployment applies config/overlays/queue-proxy's
// patch, as its comment says (ko's image resolved to a plain name), to
// Knative's own config-deployment in a real API server: only
// queue-sidecar-image changes, and Knative reads the result.
func TestOverlayPatchesConfigDeployment(t *testing.T) {
	const image = "registry.example/kntrace/queue@sha256:0000000000000000000000000000000000000000000000000000000000000000"
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "config", "overlays", "queue-proxy")
	patch, err := os.ReadFile(filepath.Join(dir, "config-deployment.patch"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(patch, []byte("queue-sidecar-image: "+koImage+"\n")) {
		t.Fatalf("the patch does not set queue-sidecar-image to %s", koImage)
	}
	kust, err := os.ReadFile(filepath.Join(dir, "Kustomization"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(kust, []byte("path: config-deployment.patch")) {
		t.Error("the Kustomize component does not use config-deployment.patch")
	}
	patch = bytes.ReplaceAll(patch, []byte(koImage), []byte(image))
	patchJSON, err := yaml.YAMLToJSON(patch)
	if err != nil {
		t.Fatalf("the patch is not YAML: %v", err)
	}

	upstream := knativeConfigDeployment(t)
	srv := apiserver.StartForTest(t)
	ctx := context.Background()
	if _, err := srv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "knative-serving"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := srv.Client.CoreV1().ConfigMaps("knative-serving").Create(ctx, upstream, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := srv.Client.CoreV1().ConfigMaps("knative-serving").Patch(ctx, "config-deployment", types.StrategicMergePatchType, patchJSON, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("kubectl patch --type=strategic with the overlay: %v", err)
	}
	want := map[string]string{}
	for k, v := range before.Data {
		want[k] = v
	}
	want["queue-sidecar-image"] = image
	if diff := cmp.Diff(want, after.Data); diff != "" {
		t.Errorf("config-deployment data after the patch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before.Annotations, after.Annotations); diff != "" {
		t.Errorf("annotations (the _example checksum) changed (-want +got):\n%s", diff)
	}
	cfg, err := deployment.NewConfigFromConfigMap(after)
	if err != nil {
		t.Fatalf("Knative refuses the patched config-deployment: %v", err)
	}
	if cfg.QueueSidecarImage != image {
		t.Errorf("Knative's queue sidecar image %q, want %q", cfg.QueueSidecarImage, image)
	}
}

// knativeConfigDeployment is config-deployment of Knative Serving v0.50.0,
// its ko:// queue image resolved to a plain name.
func knativeConfigDeployment(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	dir, err := manifests.ModuleDir(context.Background(), "knative.dev/serving", "")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.ReadFile(filepath.Join(dir, "config", "core", "configmaps", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || o.GetName() != "config-deployment" {
			continue
		}
		var cm corev1.ConfigMap
		b, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &cm); err != nil {
			t.Fatal(err)
		}
		img := cm.Data["queue-sidecar-image"]
		if !strings.HasPrefix(img, "ko://") {
			t.Fatalf("Knative's queue-sidecar-image %q: want a ko:// path", img)
		}
		cm.Data["queue-sidecar-image"] = "gcr.io/knative-releases/knative.dev/serving/cmd/queue:v1.23.0"
		return &cm
	}
	t.Fatal("no config-deployment in Knative's deployment.yaml")
	return nil
}
