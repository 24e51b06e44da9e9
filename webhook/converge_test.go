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
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
	"github.com/kntrace/kntrace/webhook"
)

func str(s string) *string { return &s }

func TestTracingChange(t *testing.T) {
	def := settings.DefaultConfig()
	none := settings.DefaultConfig()
	none.CollectorProtocol = conventions.ProtocolNone
	tail := settings.DefaultConfig()
	tail.SamplingMode = settings.SamplingModeTail
	rate, one := 0.1, 1.0
	tests := []struct {
		name  string
		cfg   *settings.Config
		shape configmaps.Shape
		want  configmaps.Change
	}{
		{name: "1.19+: OTLP", cfg: def, shape: configmaps.ShapeObservability,
			want: configmaps.Change{Protocol: str("grpc"), Endpoint: str(settings.DefaultCollectorEndpoint), SamplingRate: &rate}},
		{name: "1.19+: tail mode samples every trace at the head", cfg: tail, shape: configmaps.ShapeObservability,
			want: configmaps.Change{Protocol: str("grpc"), Endpoint: str(settings.DefaultCollectorEndpoint), SamplingRate: &one}},
		{name: "legacy: tail mode samples every trace at the head", cfg: tail, shape: configmaps.ShapeLegacy,
			want: configmaps.Change{Protocol: str("zipkin"), Endpoint: str(settings.DefaultZipkinEndpoint), SamplingRate: &one}},
		{name: "1.19+: off", cfg: none, shape: configmaps.ShapeObservability, want: configmaps.Change{Protocol: str("none")}},
		{name: "legacy: Zipkin into the collector", cfg: def, shape: configmaps.ShapeLegacy,
			want: configmaps.Change{Protocol: str("zipkin"), Endpoint: str(settings.DefaultZipkinEndpoint), SamplingRate: &rate}},
		{name: "legacy: off", cfg: none, shape: configmaps.ShapeLegacy, want: configmaps.Change{Protocol: str("none")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, webhook.TracingChange(tt.cfg, tt.shape)); diff != "" {
				t.Errorf("TracingChange (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConvergeLegacyKnative: on Knative Serving 1.15 (config-tracing only,
// no eventing) the controller writes the Zipkin backend, the queue sidecar
// image when asked, and nothing on a second pass; with
// manage-knative-config off it writes nothing at all.
func TestConvergeLegacyKnative(t *testing.T) {
	srv := apiserver.StartForTest(t)
	ctx := context.Background()
	if err := manifests.ApplySets(ctx, srv.Config, manifests.LegacyServing); err != nil {
		t.Fatal(err)
	}
	kube := srv.Client
	cfg := settings.DefaultConfig()
	cfg.QueueSidecarImage = "example.com/kntrace/queue:v1"
	cfg.ManageKnativeConfig = false
	c := webhook.NewConverger(kube)
	if w, err := c.Converge(ctx, cfg); err != nil || len(w) != 0 {
		t.Fatalf("manage-knative-config false: writes %v, %v; want none", w, err)
	}
	cfg.ManageKnativeConfig = true
	writes, err := c.Converge(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []webhook.Write{
		{Namespace: "knative-serving", Name: "config-tracing", Keys: []string{"backend", "sample-rate", "zipkin-endpoint"}},
		{Namespace: "knative-serving", Name: "config-features", Keys: []string{webhook.MountPodInfoKey}},
		{Namespace: "knative-serving", Name: "config-deployment", Keys: []string{webhook.QueueSidecarImageKey}},
	}
	if diff := cmp.Diff(want, writes); diff != "" {
		t.Errorf("first pass writes (-want +got):\n%s", diff)
	}
	tracing, err := kube.CoreV1().ConfigMaps("knative-serving").Get(ctx, "config-tracing", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"backend": "zipkin", "zipkin-endpoint": settings.DefaultZipkinEndpoint, "sample-rate": "0.1"} {
		if tracing.Data[k] != v {
			t.Errorf("config-tracing %s = %q, want %q", k, tracing.Data[k], v)
		}
	}
	if tracing.Data[configmaps.ExampleKey] == "" {
		t.Error("config-tracing lost _example")
	}
	rv := tracing.ResourceVersion
	if w, err := c.Converge(ctx, cfg); err != nil || len(w) != 0 {
		t.Errorf("second pass: writes %v, %v; want none", w, err)
	}
	again, err := kube.CoreV1().ConfigMaps("knative-serving").Get(ctx, "config-tracing", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ResourceVersion != rv {
		t.Errorf("config-tracing resourceVersion %s → %s on a pass with nothing to change", rv, again.ResourceVersion)
	}
}
