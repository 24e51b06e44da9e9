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

package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
)

// TestConfigServerDryRun: every object under config/ is accepted by a real
// API server (server-side apply, dryRun=All, strict field validation) on a
// cluster with Knative 1.23, ko:// images replaced by a placeholder.
func TestConfigServerDryRun(t *testing.T) {
	srv := apiserver.StartForTest(t)
	ctx := context.Background()
	if err := manifests.ApplySets(ctx, srv.Config, manifests.ServingCore, manifests.EventingCore); err != nil {
		t.Fatal(err)
	}
	// Objects in kntrace-system need the namespace to exist: apply it for
	// real, then dry-run everything (the namespace included).
	nsObjs, err := manifests.ReadFile(filepath.Join("..", "config", "100-namespace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := manifests.NewApplier(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(ctx, nsObjs); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	files, err := filepath.Glob(filepath.Join("..", "config", "*.yaml"))
	if err != nil || len(files) < 6 {
		t.Fatalf("config/*.yaml: %v %v", files, err)
	}
	kinds := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			raw = bytes.ReplaceAll(raw, []byte("ko://github.com/kntrace/kntrace/cmd/webhook"), []byte("example.com/kntrace/webhook:dry-run"))
			objs, err := manifests.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			for _, o := range objs {
				gvk := o.GroupVersionKind()
				kinds[gvk.Kind] = true
				if !strings.HasPrefix(o.GetLabels()["app.kubernetes.io/part-of"], "kntrace") {
					t.Errorf("%s %s has no app.kubernetes.io/part-of=kntrace label", gvk.Kind, o.GetName())
				}
				mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Fatalf("%s: %v", gvk, err)
				}
				ri := dynamic.ResourceInterface(dyn.Resource(mapping.Resource))
				if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
					ri = dyn.Resource(mapping.Resource).Namespace(o.GetNamespace())
				}
				body, err := json.Marshal(o.Object)
				if err != nil {
					t.Fatal(err)
				}
				force := true
				if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
					FieldManager: "kntrace-dry-run", Force: &force, DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict",
				}); err != nil {
					t.Errorf("%s %s/%s refused: %v", gvk.Kind, o.GetNamespace(), o.GetName(), err)
				}
			}
		})
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ClusterRole", "Role", "ConfigMap", "Secret", "Deployment", "Service", "MutatingWebhookConfiguration"} {
		if !kinds[k] {
			t.Errorf("config/ ships no %s", k)
		}
	}
}
