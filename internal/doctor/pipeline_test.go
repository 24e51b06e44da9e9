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

package doctor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/manifests"
)

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// scaleOutCluster is a real API server holding exactly what `kubectl
// kustomize scale-out` builds, with the status a running cluster would
// give it: every agent and gateway ready, their EndpointSlices, the claim
// bound. There are no controllers, so the test writes status by hand.
func scaleOutCluster(t *testing.T) kubernetes.Interface {
	t.Helper()
	ctx := context.Background()
	srv := apiserver.StartForTest(t)
	kubectl, err := binaries.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "kustomize", filepath.Join("..", "..", "scale-out")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize scale-out: %v", err)
	}
	path := filepath.Join(t.TempDir(), "scale-out.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	objs := must[[]*unstructured.Unstructured](t)(manifests.ReadFile(path))
	// kntrace's RBAC has Roles in Knative's namespaces.
	for _, kn := range []string{"knative-serving", "knative-eventing"} {
		must[*corev1.Namespace](t)(srv.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: kn}}, metav1.CreateOptions{}))
	}
	a := must[*manifests.Applier](t)(manifests.NewApplier(srv.Config))
	if err := a.Apply(ctx, objs); err != nil {
		t.Fatalf("apply the scale-out install: %v", err)
	}
	kube := srv.Client
	ns := conventions.SystemNamespace
	ds := must[*appsv1.DaemonSet](t)(kube.AppsV1().DaemonSets(ns).Get(ctx, conventions.AgentName, metav1.GetOptions{}))
	ds.Status.DesiredNumberScheduled, ds.Status.NumberReady = 3, 3
	must[*appsv1.DaemonSet](t)(kube.AppsV1().DaemonSets(ns).UpdateStatus(ctx, ds, metav1.UpdateOptions{}))
	ss := must[*appsv1.StatefulSet](t)(kube.AppsV1().StatefulSets(ns).Get(ctx, conventions.GatewayName, metav1.GetOptions{}))
	ss.Status.Replicas, ss.Status.ReadyReplicas = 2, 2
	must[*appsv1.StatefulSet](t)(kube.AppsV1().StatefulSets(ns).UpdateStatus(ctx, ss, metav1.UpdateOptions{}))
	endpoints(t, kube, conventions.GatewayName, "10.1.0.1", "10.1.0.2")
	endpoints(t, kube, conventions.CollectorName, "10.2.0.1", "10.2.0.2", "10.2.0.3")
	pvc := must[*corev1.PersistentVolumeClaim](t)(kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "jaeger-badger", metav1.GetOptions{}))
	pvc.Status.Phase = corev1.ClaimBound
	pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")}
	must[*corev1.PersistentVolumeClaim](t)(kube.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, pvc, metav1.UpdateOptions{}))
	return kube
}

// endpoints writes the EndpointSlice of a Service, one ready address each.
func endpoints(t *testing.T, kube kubernetes.Interface, service string, ips ...string) {
	t.Helper()
	ready := true
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: service + "-abc", Namespace: conventions.SystemNamespace, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
	}
	ctx := context.Background()
	slices := kube.DiscoveryV1().EndpointSlices(conventions.SystemNamespace)
	_ = slices.Delete(ctx, s.Name, metav1.DeleteOptions{})
	must[*discoveryv1.EndpointSlice](t)(slices.Create(ctx, s, metav1.CreateOptions{}))
}

func runPipeline(t *testing.T, kube kubernetes.Interface) map[string]Check {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := &doctor{kube: kube, report: &Report{}}
	d.pipeline(ctx)
	out := map[string]Check{}
	for _, c := range d.report.Checks {
		out[c.Name] = c
	}
	return out
}

func statuses(checks map[string]Check) map[string]Status {
	out := map[string]Status{}
	for n, c := range checks {
		out[n] = c.Status
	}
	return out
}

// TestPipelineChecks: on the shipped scale-out install every pipeline check
// passes; each thing broken makes exactly its check fail or warn, with a
// fix.
func TestPipelineChecks(t *testing.T) {
	kube := scaleOutCluster(t)
	ctx := context.Background()
	ns := conventions.SystemNamespace

	got := runPipeline(t, kube)
	want := map[string]Status{
		"pipeline/shape": StatusPass, "pipeline/agents": StatusPass, "pipeline/gateways": StatusPass,
		"pipeline/cold-start-policy": StatusPass, "pipeline/queue-storage": StatusPass,
		"pipeline/sampling-mode": StatusPass, "pipeline/jaeger-storage": StatusPass,
	}
	if diff := cmp.Diff(want, statuses(got)); diff != "" {
		t.Fatalf("the shipped scale-out install (-want +got):\n%s\n%+v", diff, got)
	}
	for name, msg := range map[string]string{
		"pipeline/shape":             "scale-out: agents (DaemonSet otel-agent, 3 of 3 ready) and gateways (StatefulSet otel-gateway, 2 of 2 ready)",
		"pipeline/agents":            "3 of 3 agents ready and reachable through Service otel-collector on each caller's node",
		"pipeline/gateways":          "the agents resolve 2 gateways behind the headless Service otel-gateway",
		"pipeline/cold-start-policy": `policy "cold-starts" keeps every trace with faas.coldstart=true`,
		"pipeline/queue-storage":     "otel-agent load_balancing on hostPath /var/lib/kntrace/otel-agent, otel-gateway otlp_grpc/jaeger on its own claim queue",
		"pipeline/jaeger-storage":    "Jaeger on Badger on claim jaeger-badger (20Gi)",
	} {
		if !strings.Contains(got[name].Message, msg) {
			t.Errorf("%s: %q, want it to say %q", name, got[name].Message, msg)
		}
	}

	// editConfig changes a collector ConfigMap and returns the undo.
	editConfig := func(t *testing.T, tier string, edit func(map[string]any)) func() {
		t.Helper()
		cms := kube.CoreV1().ConfigMaps(ns)
		cm := must[*corev1.ConfigMap](t)(cms.Get(ctx, tier+"-config", metav1.GetOptions{}))
		orig := cm.DeepCopy()
		var c map[string]any
		if err := yaml.Unmarshal([]byte(cm.Data[conventions.CollectorConfigKey]), &c); err != nil {
			t.Fatal(err)
		}
		edit(c)
		cm.Data[conventions.CollectorConfigKey] = string(must[[]byte](t)(yaml.Marshal(c)))
		must[*corev1.ConfigMap](t)(cms.Update(ctx, cm, metav1.UpdateOptions{}))
		return func() {
			cur := must[*corev1.ConfigMap](t)(cms.Get(ctx, tier+"-config", metav1.GetOptions{}))
			cur.Data = orig.Data
			must[*corev1.ConfigMap](t)(cms.Update(ctx, cur, metav1.UpdateOptions{}))
		}
	}
	get := func(m map[string]any, path ...string) map[string]any {
		for _, k := range path {
			m, _ = m[k].(map[string]any)
		}
		return m
	}
	tests := []struct {
		name       string
		break_     func(t *testing.T) func()
		wantCheck  string
		wantStatus Status
		wantMsg    string
	}{{
		name: "no cold-start policy",
		break_: func(t *testing.T) func() {
			return editConfig(t, conventions.GatewayName, func(c map[string]any) {
				ts := get(c, "processors", "tail_sampling")
				ps := ts["policies"].([]any)
				ts["policies"] = ps[1:] // the shipped cold-starts policy is first
			})
		},
		wantCheck: "pipeline/cold-start-policy", wantStatus: StatusFail, wantMsg: "no tail_sampling policy keeps faas.coldstart=true",
	}, {
		name: "an in-memory queue",
		break_: func(t *testing.T) func() {
			return editConfig(t, conventions.AgentName, func(c map[string]any) {
				delete(get(c, "exporters", "load_balancing", "sending_queue"), "storage")
			})
		},
		wantCheck: "pipeline/queue-storage", wantStatus: StatusFail, wantMsg: "otel-agent exporter load_balancing queues in memory",
	}, {
		name: "one gateway resolved",
		break_: func(t *testing.T) func() {
			endpoints(t, kube, conventions.GatewayName, "10.1.0.1")
			return func() { endpoints(t, kube, conventions.GatewayName, "10.1.0.1", "10.1.0.2") }
		},
		wantCheck: "pipeline/gateways", wantStatus: StatusWarn, wantMsg: "resolve 1 gateway",
	}, {
		name: "no agent ready",
		break_: func(t *testing.T) func() {
			ds := must[*appsv1.DaemonSet](t)(kube.AppsV1().DaemonSets(ns).Get(ctx, conventions.AgentName, metav1.GetOptions{}))
			ds.Status.NumberReady = 0
			must[*appsv1.DaemonSet](t)(kube.AppsV1().DaemonSets(ns).UpdateStatus(ctx, ds, metav1.UpdateOptions{}))
			return func() {
				ds := must[*appsv1.DaemonSet](t)(kube.AppsV1().DaemonSets(ns).Get(ctx, conventions.AgentName, metav1.GetOptions{}))
				ds.Status.NumberReady = 3
				must[*appsv1.DaemonSet](t)(kube.AppsV1().DaemonSets(ns).UpdateStatus(ctx, ds, metav1.UpdateOptions{}))
			}
		},
		// The queues are not opened by any agent either.
		wantCheck: "pipeline/agents", wantStatus: StatusFail, wantMsg: "no agent is ready",
	}, {
		name: "head sampling in front of the gateways",
		break_: func(t *testing.T) func() {
			cms := kube.CoreV1().ConfigMaps(ns)
			cm := must[*corev1.ConfigMap](t)(cms.Get(ctx, "config-kntrace", metav1.GetOptions{}))
			cm.Data["sampling-mode"] = "head"
			must[*corev1.ConfigMap](t)(cms.Update(ctx, cm, metav1.UpdateOptions{}))
			return func() {
				cm := must[*corev1.ConfigMap](t)(cms.Get(ctx, "config-kntrace", metav1.GetOptions{}))
				cm.Data["sampling-mode"] = "tail"
				must[*corev1.ConfigMap](t)(cms.Update(ctx, cm, metav1.UpdateOptions{}))
			}
		},
		wantCheck: "pipeline/sampling-mode", wantStatus: StatusWarn, wantMsg: "most cold starts never reach them",
	}, {
		name: "the single collector brought back",
		break_: func(t *testing.T) func() {
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: conventions.CollectorName, Namespace: ns},
				Spec: appsv1.DeploymentSpec{
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "c"}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "c"}},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "c"}}}},
				},
			}
			must[*appsv1.Deployment](t)(kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}))
			return func() {
				if err := kube.AppsV1().Deployments(ns).Delete(ctx, d.Name, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		},
		wantCheck: "pipeline/shape", wantStatus: StatusFail, wantMsg: "both installs run",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			undo := tc.break_(t)
			defer undo()
			got := runPipeline(t, kube)
			c := got[tc.wantCheck]
			if c.Status != tc.wantStatus || !strings.Contains(c.Message, tc.wantMsg) || c.Fix == "" {
				t.Errorf("%s = %+v; want %s with %q and a fix", tc.wantCheck, c, tc.wantStatus, tc.wantMsg)
			}
		})
	}
}
