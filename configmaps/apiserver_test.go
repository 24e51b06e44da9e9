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

package configmaps_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
)

func ptr[T any](v T) *T { return &v }

// knative starts a real API server seeded with the given Knative sets.
func knative(t *testing.T, sets ...manifests.Set) *apiserver.Server {
	t.Helper()
	srv := apiserver.StartForTest(t)
	if err := manifests.ApplySets(context.Background(), srv.Config, sets...); err != nil {
		t.Fatalf("apply Knative manifests: %v", err)
	}
	return srv
}

func getCM(t *testing.T, kube kubernetes.Interface, ns, name string) *corev1.ConfigMap {
	t.Helper()
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// without returns m minus keys.
func without(m map[string]string, keys ...string) map[string]string {
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

var grpcChange = configmaps.Change{Protocol: ptr("grpc"), Endpoint: ptr("http://otel-collector.kntrace-system:4317"), SamplingRate: ptr(1.0)}

func TestSetAndRollbackOnKnative123(t *testing.T) {
	srv := knative(t, manifests.ServingCore, manifests.EventingCore)
	ctx := context.Background()
	c := configmaps.NewClient(srv.Client)
	for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
		t.Run(ns, func(t *testing.T) {
			orig := getCM(t, srv.Client, ns, configmaps.ObservabilityConfigName)
			if orig.Data[configmaps.ExampleKey] == "" || orig.Annotations[configmaps.ExampleChecksumAnnotation] == "" {
				t.Fatalf("seeded %s/config-observability has no _example or checksum: the shipped ConfigMap did not apply", ns)
			}
			res, err := c.Set(ctx, ns, grpcChange, configmaps.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Written || res.Detection.Shape != configmaps.ShapeObservability {
				t.Fatalf("Set() = written %v, shape %s; want a write to config-observability", res.Written, res.Detection.Shape)
			}
			if got, want := res.RollsPods(), ns == configmaps.ServingNamespace; got != want {
				t.Errorf("RollsPods() = %v, want %v", got, want)
			}
			after := getCM(t, srv.Client, ns, configmaps.ObservabilityConfigName)
			wantTracing := map[string]string{configmaps.ProtocolKey: "grpc", configmaps.EndpointKey: "http://otel-collector.kntrace-system:4317", configmaps.SamplingRateKey: "1"}
			for k, v := range wantTracing {
				if after.Data[k] != v {
					t.Errorf("read back %s = %q, want %q", k, after.Data[k], v)
				}
			}
			tracingKeys := configmaps.ShapeObservability.TracingKeys()
			if diff := cmp.Diff(without(orig.Data, tracingKeys...), without(after.Data, tracingKeys...)); diff != "" {
				t.Errorf("keys kntrace does not own changed (-before +after):\n%s", diff)
			}
			if after.Data[configmaps.ExampleKey] != orig.Data[configmaps.ExampleKey] {
				t.Error("_example is not byte-identical")
			}
			if diff := cmp.Diff(orig.Annotations, without(after.Annotations, configmaps.PreviousAnnotation)); diff != "" {
				t.Errorf("annotations other than kntrace's changed (-before +after):\n%s", diff)
			}

			// The same change again: no write, so no pod rolls.
			again, err := c.Set(ctx, ns, grpcChange, configmaps.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if again.Written || getCM(t, srv.Client, ns, configmaps.ObservabilityConfigName).ResourceVersion != after.ResourceVersion {
				t.Error("an unchanged configuration was written again")
			}

			if _, err := c.Rollback(ctx, ns, configmaps.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			restored := getCM(t, srv.Client, ns, configmaps.ObservabilityConfigName)
			if diff := cmp.Diff(orig.Data, restored.Data); diff != "" {
				t.Errorf("rollback data (-original +restored):\n%s", diff)
			}
			if diff := cmp.Diff(orig.Annotations, restored.Annotations); diff != "" {
				t.Errorf("rollback annotations (-original +restored):\n%s", diff)
			}
			if diff := cmp.Diff(orig.Labels, restored.Labels); diff != "" {
				t.Errorf("rollback labels (-original +restored):\n%s", diff)
			}
		})
	}
}

// The configuration rows of DESIGN.md's upstream table: each refused input
// leaves the object untouched (same resourceVersion).
func TestRefusedInputChangesNothing(t *testing.T) {
	srv := knative(t, manifests.ServingCore, manifests.EventingCore)
	ctx := context.Background()
	c := configmaps.NewClient(srv.Client)
	tests := []struct {
		name    string
		change  configmaps.Change
		wantKey string
		wantMsg string
	}{
		{"IP:port crash-loops every component", configmaps.Change{Protocol: ptr("grpc"), Endpoint: ptr("10.0.0.1:4317"), SamplingRate: ptr(1.0)}, configmaps.EndpointKey, "crash-loops"},
		{"host:port silently becomes https", configmaps.Change{Protocol: ptr("grpc"), Endpoint: ptr("otel-collector:4317"), SamplingRate: ptr(1.0)}, configmaps.EndpointKey, "https://"},
		{"protocol without a rate samples nothing", configmaps.Change{Protocol: ptr("grpc"), Endpoint: ptr("http://c:4317")}, configmaps.SamplingRateKey, "uses 0"},
		{"grpc with an HTTP path", configmaps.Change{Protocol: ptr("grpc"), Endpoint: ptr("http://c:4318/v1/traces"), SamplingRate: ptr(1.0)}, configmaps.EndpointKey, "grpc ignores paths"},
		{"http/protobuf without a path", configmaps.Change{Protocol: ptr("http/protobuf"), Endpoint: ptr("http://c:4318"), SamplingRate: ptr(1.0)}, configmaps.EndpointKey, "/v1/traces"},
	}
	for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
		for _, tc := range tests {
			t.Run(ns+"/"+tc.name, func(t *testing.T) {
				before := getCM(t, srv.Client, ns, configmaps.ObservabilityConfigName).ResourceVersion
				_, err := c.Set(ctx, ns, tc.change, configmaps.WriteOptions{})
				var refused *configmaps.RefusedError
				if !errors.As(err, &refused) {
					t.Fatalf("Set() error = %v, want a refusal", err)
				}
				if refused.Problems[0].Key != tc.wantKey || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("refusal %q: want key %s and %q", err, tc.wantKey, tc.wantMsg)
				}
				if after := getCM(t, srv.Client, ns, configmaps.ObservabilityConfigName).ResourceVersion; after != before {
					t.Errorf("resourceVersion %s -> %s: a refused change was written", before, after)
				}
			})
		}
	}
}

func TestRestoresWebhookLabels(t *testing.T) {
	srv := knative(t, manifests.ServingCore)
	ctx := context.Background()
	cm := getCM(t, srv.Client, configmaps.ServingNamespace, configmaps.ObservabilityConfigName)
	delete(cm.Labels, "app.kubernetes.io/component")
	if _, err := srv.Client.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := configmaps.NewClient(srv.Client)
	st, err := c.Show(ctx, configmaps.ServingNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Problems) != 1 || !strings.Contains(st.Problems[0].Message, "app.kubernetes.io/component=observability") {
		t.Errorf("Show() problems = %v, want the missing label reported", st.Problems)
	}
	if _, err := c.Set(ctx, configmaps.ServingNamespace, grpcChange, configmaps.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := getCM(t, srv.Client, configmaps.ServingNamespace, configmaps.ObservabilityConfigName).Labels["app.kubernetes.io/component"]; got != "observability" {
		t.Errorf("label after write = %q, want observability", got)
	}
}

// conflictingKube makes the first ConfigMap update lose a race against a
// real concurrent writer on the same API server.
type conflictingKube struct {
	kubernetes.Interface
	racer func()
}

func (k *conflictingKube) CoreV1() typedcorev1.CoreV1Interface {
	return &conflictingCore{CoreV1Interface: k.Interface.CoreV1(), k: k}
}

type conflictingCore struct {
	typedcorev1.CoreV1Interface
	k *conflictingKube
}

func (c *conflictingCore) ConfigMaps(ns string) typedcorev1.ConfigMapInterface {
	return &conflictingCMs{ConfigMapInterface: c.CoreV1Interface.ConfigMaps(ns), k: c.k}
}

type conflictingCMs struct {
	typedcorev1.ConfigMapInterface
	k *conflictingKube
}

func (c *conflictingCMs) Update(ctx context.Context, cm *corev1.ConfigMap, opts metav1.UpdateOptions) (*corev1.ConfigMap, error) {
	if race := c.k.racer; race != nil {
		c.k.racer = nil
		race()
	}
	return c.ConfigMapInterface.Update(ctx, cm, opts)
}

func TestConcurrentWriterForcesRetry(t *testing.T) {
	srv := knative(t, manifests.ServingCore)
	ctx := context.Background()
	kube := &conflictingKube{Interface: srv.Client}
	kube.racer = func() {
		cm := getCM(t, srv.Client, configmaps.ServingNamespace, configmaps.ObservabilityConfigName)
		cm.Data["metrics-protocol"] = "grpc"
		if _, err := srv.Client.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Errorf("concurrent writer: %v", err)
		}
	}
	res, err := configmaps.NewClient(kube).Set(ctx, configmaps.ServingNamespace, grpcChange, configmaps.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Conflicts != 1 || !res.Written {
		t.Errorf("Set() conflicts=%d written=%v, want one conflict then a write", res.Conflicts, res.Written)
	}
	got := getCM(t, srv.Client, configmaps.ServingNamespace, configmaps.ObservabilityConfigName)
	if got.Data["metrics-protocol"] != "grpc" || got.Data[configmaps.ProtocolKey] != "grpc" {
		t.Errorf("after the retry data = %v, want both the concurrent writer's key and kntrace's", got.Data)
	}
}

func TestLegacyKnative115(t *testing.T) {
	srv := knative(t, manifests.LegacyServing)
	ctx := context.Background()
	c := configmaps.NewClient(srv.Client)
	det, err := c.Detect(ctx, configmaps.ServingNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if det.Shape != configmaps.ShapeLegacy {
		t.Fatalf("Detect() = %+v, want legacy for serving v0.42.2's ConfigMaps", det)
	}
	orig := getCM(t, srv.Client, configmaps.ServingNamespace, configmaps.LegacyConfigName)
	zipkin := configmaps.Change{Protocol: ptr("zipkin"), Endpoint: ptr("http://zipkin.istio-system.svc.cluster.local:9411/api/v2/spans"), SamplingRate: ptr(0.5)}
	if _, err := c.Set(ctx, configmaps.ServingNamespace, zipkin, configmaps.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	after := getCM(t, srv.Client, configmaps.ServingNamespace, configmaps.LegacyConfigName)
	if after.Data["backend"] != "zipkin" || after.Data["sample-rate"] != "0.5" || after.Data["_example"] != orig.Data["_example"] {
		t.Errorf("legacy data after set = %v", after.Data)
	}

	// An upgrade to 1.19+ ignores config-tracing: migrate writes the
	// equivalent config-observability keys (debug becomes rate 1).
	after.Data["debug"] = "true"
	if _, err := srv.Client.CoreV1().ConfigMaps(after.Namespace).Update(ctx, after, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Migrate(ctx, configmaps.ServingNamespace, configmaps.MigrateOptions{}); err == nil || !strings.Contains(err.Error(), "--endpoint") {
		t.Errorf("Migrate() without an endpoint = %v, want an error naming --endpoint", err)
	}
	res, err := c.Migrate(ctx, configmaps.ServingNamespace, configmaps.MigrateOptions{Endpoint: "http://otel-collector.kntrace-system:4317"})
	if err != nil {
		t.Fatal(err)
	}
	obs := getCM(t, srv.Client, configmaps.ServingNamespace, configmaps.ObservabilityConfigName)
	want := map[string]string{configmaps.ProtocolKey: "grpc", configmaps.EndpointKey: "http://otel-collector.kntrace-system:4317", configmaps.SamplingRateKey: "1"}
	for k, v := range want {
		if obs.Data[k] != v {
			t.Errorf("migrated %s = %q, want %q (result %s)", k, obs.Data[k], v, res.Diff())
		}
	}
	// The version label decides once present.
	ns, _ := srv.Client.CoreV1().Namespaces().Get(ctx, configmaps.ServingNamespace, metav1.GetOptions{})
	ns.Labels["app.kubernetes.io/version"] = "1.23.0"
	if _, err := srv.Client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if det, _ := c.Detect(ctx, configmaps.ServingNamespace); det.Shape != configmaps.ShapeObservability || det.KnativeVersion != "1.23.0" {
		t.Errorf("Detect() with version label 1.23.0 = %+v, want observability", det)
	}
}
