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

package configmaps

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func shippedObservability() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: ObservabilityConfigName, Namespace: ServingNamespace,
			Labels:      map[string]string{"app.kubernetes.io/name": "knative-serving", "app.kubernetes.io/component": "observability"},
			Annotations: map[string]string{ExampleChecksumAnnotation: "59abacb5"},
		},
		Data: map[string]string{ExampleKey: "\n    tracing-protocol: http/protobuf\n", "metrics-protocol": "none"},
	}
}

func TestPlanChange(t *testing.T) {
	tests := []struct {
		name       string
		cm         func() *corev1.ConfigMap
		shape      Shape
		change     Change
		wantData   map[string]string
		wantLabels map[string]string
		wantErr    string
	}{{
		name:   "enable grpc keeps every other key",
		cm:     shippedObservability,
		shape:  ShapeObservability,
		change: Change{Protocol: ptr("grpc"), Endpoint: ptr("http://c:4317"), SamplingRate: ptr(0.5)},
		wantData: map[string]string{ExampleKey: "\n    tracing-protocol: http/protobuf\n", "metrics-protocol": "none",
			ProtocolKey: "grpc", EndpointKey: "http://c:4317", SamplingRateKey: "0.5"},
	}, {
		name: "protocol none drops the endpoint Knative would refuse",
		cm: func() *corev1.ConfigMap {
			cm := shippedObservability()
			cm.Data[ProtocolKey], cm.Data[EndpointKey], cm.Data[SamplingRateKey] = "grpc", "http://c:4317", "1"
			return cm
		},
		shape:  ShapeObservability,
		change: Change{Protocol: ptr("none")},
		wantData: map[string]string{ExampleKey: "\n    tracing-protocol: http/protobuf\n", "metrics-protocol": "none",
			ProtocolKey: "none", SamplingRateKey: "1"},
	}, {
		name:    "crash-causing endpoint is refused",
		cm:      shippedObservability,
		shape:   ShapeObservability,
		change:  Change{Protocol: ptr("grpc"), Endpoint: ptr("10.0.0.1:4317"), SamplingRate: ptr(1.0)},
		wantErr: "tracing-endpoint \"10.0.0.1:4317\"",
	}, {
		name:    "unknown protocol names accepted values",
		cm:      shippedObservability,
		shape:   ShapeObservability,
		change:  Change{Protocol: ptr("otlp")},
		wantErr: "want one of grpc, http/protobuf, none, stdout",
	}, {
		name:    "rate out of range",
		cm:      shippedObservability,
		shape:   ShapeObservability,
		change:  Change{SamplingRate: ptr(1.5)},
		wantErr: "want a number in [0, 1]",
	}, {
		name: "restores the label Knative's webhook selects on",
		cm: func() *corev1.ConfigMap {
			cm := shippedObservability()
			delete(cm.Labels, "app.kubernetes.io/component")
			return cm
		},
		shape:      ShapeObservability,
		change:     Change{Protocol: ptr("grpc"), Endpoint: ptr("http://c:4317"), SamplingRate: ptr(1.0)},
		wantLabels: map[string]string{"app.kubernetes.io/component": "observability"},
		wantData: map[string]string{ExampleKey: "\n    tracing-protocol: http/protobuf\n", "metrics-protocol": "none",
			ProtocolKey: "grpc", EndpointKey: "http://c:4317", SamplingRateKey: "1"},
	}, {
		name: "legacy zipkin",
		cm: func() *corev1.ConfigMap {
			return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: LegacyConfigName, Namespace: EventingNamespace},
				Data: map[string]string{ExampleKey: "backend: none"}}
		},
		shape:    ShapeLegacy,
		change:   Change{Protocol: ptr("zipkin"), Endpoint: ptr("http://z:9411/api/v2/spans"), SamplingRate: ptr(1.0)},
		wantData: map[string]string{ExampleKey: "backend: none", BackendKey: "zipkin", ZipkinEndpointKey: "http://z:9411/api/v2/spans", SampleRateKey: "1"},
	}, {
		name: "legacy refuses OTLP protocols",
		cm: func() *corev1.ConfigMap {
			return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: LegacyConfigName, Namespace: ServingNamespace}}
		},
		shape:   ShapeLegacy,
		change:  Change{Protocol: ptr("grpc")},
		wantErr: "kn trace config migrate",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.cm()
			orig := before.DeepCopy()
			p, err := PlanChange(before, tc.shape, tc.change, CheckOptions{})
			if diff := cmp.Diff(orig, before); diff != "" {
				t.Fatalf("PlanChange modified its input (-want +got):\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("PlanChange() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanChange() = %v", err)
			}
			if diff := cmp.Diff(tc.wantData, p.After().Data); diff != "" {
				t.Errorf("data (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLabels, p.LabelsRestored); diff != "" {
				t.Errorf("restored labels (-want +got):\n%s", diff)
			}
			if got := p.After().Annotations[ExampleChecksumAnnotation]; got != orig.Annotations[ExampleChecksumAnnotation] {
				t.Errorf("checksum annotation = %q, want it untouched", got)
			}
		})
	}
}

func TestPlanChangeNoOpDoesNotWrite(t *testing.T) {
	cm := shippedObservability()
	cm.Data[ProtocolKey], cm.Data[EndpointKey], cm.Data[SamplingRateKey] = "grpc", "http://c:4317", "1"
	p, err := PlanChange(cm, ShapeObservability, Change{Protocol: ptr("grpc"), SamplingRate: ptr(1.0)}, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.NeedsWrite() || p.RollsPods() {
		t.Errorf("NeedsWrite=%v RollsPods=%v for an unchanged config, want false", p.NeedsWrite(), p.RollsPods())
	}
}

func TestPlanRollbackRestoresExactly(t *testing.T) {
	orig := shippedObservability()
	orig.Data[ProtocolKey] = "none"
	p, err := PlanChange(orig, ShapeObservability, Change{Protocol: ptr("grpc"), Endpoint: ptr("http://c:4317"), SamplingRate: ptr(1.0)}, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.RollsPods() {
		t.Error("a change of serving's config-observability must say it rolls pods")
	}
	var prev map[string]*string
	if err := json.Unmarshal([]byte(p.After().Annotations[PreviousAnnotation]), &prev); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]*string{ProtocolKey: ptr("none"), EndpointKey: nil, SamplingRateKey: nil}, prev); diff != "" {
		t.Errorf("recorded previous values (-want +got):\n%s", diff)
	}
	rb, err := PlanRollback(p.After(), ShapeObservability)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(orig, rb.After()); diff != "" {
		t.Errorf("rollback result (-want +got):\n%s", diff)
	}
	if _, err := PlanRollback(rb.After(), ShapeObservability); err == nil || !strings.Contains(err.Error(), "nothing to roll back") {
		t.Errorf("second rollback error = %v, want 'nothing to roll back'", err)
	}
}

func TestRefusedErrorListsEveryProblem(t *testing.T) {
	_, err := PlanChange(shippedObservability(), ShapeObservability, Change{Protocol: ptr("grpc"), Endpoint: ptr("10.0.0.1:4317")}, CheckOptions{})
	var refused *RefusedError
	if !errors.As(err, &refused) || len(refused.Problems) != 2 {
		t.Fatalf("error = %v, want a RefusedError with the endpoint and the rate problems", err)
	}
	if !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("error %q should say nothing was written", err)
	}
}

func TestMigrationChange(t *testing.T) {
	tests := []struct {
		name    string
		legacy  LegacyTracing
		want    Change
		wantErr string
	}{
		{name: "none", legacy: LegacyTracing{Backend: "none", SampleRate: 0.1}, want: Change{Protocol: ptr("none")}},
		{name: "zipkin keeps rate", legacy: LegacyTracing{Backend: "zipkin", ZipkinEndpoint: "http://z", SampleRate: 0.25},
			want: Change{Protocol: ptr("grpc"), Endpoint: ptr("http://c:4317"), SamplingRate: ptr(0.25)}},
		{name: "debug becomes rate 1", legacy: LegacyTracing{Backend: "zipkin", ZipkinEndpoint: "http://z", SampleRate: 0.1, Debug: true},
			want: Change{Protocol: ptr("grpc"), Endpoint: ptr("http://c:4317"), SamplingRate: ptr(1.0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MigrationChange(&tc.legacy, "", "http://c:4317")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := MigrationChange(&LegacyTracing{Backend: "zipkin", ZipkinEndpoint: "http://z"}, "", ""); err == nil || !strings.Contains(err.Error(), "--endpoint") {
		t.Errorf("missing endpoint error = %v, want one naming --endpoint", err)
	}
}
