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

package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestCluster boots the cluster and proves the node works as a node must:
// a Deployment's pod is Ready, another pod reaches it through its Service's
// cluster IP (kube-proxy's rules, the bridge network) and through its DNS
// name (CoreDNS), and its logs come back through the kubelet.
//
// Then, on the same cluster, Knative Serving as its release installs it and
// Traefik as its ingress: a Knative Service scales from zero through
// Traefik and answers 200. Then kntrace as a user installs it, on this
// Serving-only cluster: helloworld's B3 request is one trace in Jaeger;
// a cold start joined by four more requests has its Kubernetes phases, from
// the kubelet's, containerd's and the API server's own spans.
// Then Knative Eventing: a Broker (MT channel broker over the in-memory
// channel) becomes Ready. Then kntrace through the real kn and its
// kn-trace plugin. Then the collector goes down during a cold start of
// apps that hold their spans until SIGTERM: nothing is lost, and the apps'
// spans arrive only after scale to zero. An app with the plain
// OpenTelemetry SDK is traced through the queue-proxy's relay. 50 cold
// starts at sampling rate 0.01 are 50 traces with their phases. Last, the
// same requests through Knative's own activator and queue-proxy: B3 is
// cut at the activator, W3C is whole, no cold start is marked.
func TestCluster(t *testing.T) {
	c := StartForTest(t)
	for _, s := range c.Timings {
		t.Logf("boot: %-40s %s", s.Step, s.Duration.Round(time.Millisecond))
	}
	t.Logf("memory after boot: %d MiB (control plane, containerd, registry, CoreDNS)", c.MemoryRSS()>>20)
	t.Run("pod-network", func(t *testing.T) { testPodNetwork(t, c) })
	if t.Failed() {
		return
	}
	t.Run("knative-scale-from-zero", func(t *testing.T) { testKnativeScaleFromZero(t, c) })
	if t.Failed() {
		return
	}
	var traceID string
	t.Run("kntrace-serving-only", func(t *testing.T) { traceID = testKntrace(t, c) })
	if t.Failed() {
		return
	}
	t.Run("cold-start-phases", func(t *testing.T) { testColdStartPhases(t, c) })
	t.Run("knative-eventing", func(t *testing.T) { testKnativeEventing(t, c) })
	if t.Failed() {
		return
	}
	t.Run("kn-trace", func(t *testing.T) { testKnTrace(t, c, traceID) })
	if t.Failed() {
		return
	}
	t.Run("eventing-cold-start", func(t *testing.T) { testEventingColdStart(t, c) })
	t.Run("collector-down-and-scale-to-zero", func(t *testing.T) { testCollectorDownAndScaleToZero(t, c) })
	if t.Failed() {
		return
	}
	t.Run("polyglot-relay", func(t *testing.T) { testPolyglotRelay(t, c) })
	t.Run("cold-starts-at-low-sampling", func(t *testing.T) { testColdStartsAtLowSampling(t, c) })
	// Last: it puts Knative's own activator and queue-proxy back.
	t.Run("upstream-comparison", func(t *testing.T) { testUpstreamComparison(t, c) })
}

func testPodNetwork(t *testing.T, c *Cluster) {
	ctx := context.Background()
	image, err := c.GoImage(ctx, ProbeProgram)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "probe"}
	if _, err := c.Client.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "probe", Image: image,
					ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)},
					}},
				}}},
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := c.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Port: 80, TargetPort: intstr.FromInt32(8080)},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.WaitDeploymentReady(ctx, "default", "probe", time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("a pod Ready %s after its Deployment was created (first pull of its image included)", time.Since(start).Round(time.Millisecond))

	for _, tc := range []struct {
		name string
		args []string
		env  []corev1.EnvVar
		want string
	}{
		{name: "cluster-ip", args: []string{"get", "http://" + svc.Spec.ClusterIP + "/"}, want: "200 kntrace-probe probe-"},
		{name: "dns", args: []string{"lookup", "probe.default.svc." + ClusterDomain}, want: svc.Spec.ClusterIP},
		{name: "dns-and-cluster-ip", args: []string{"get", "http://probe.default.svc." + ClusterDomain + "/"}, want: "200 kntrace-probe probe-"},
		// The API server through its Service, trusted by the CA every pod
		// gets with its service-account token.
		{name: "api-server", args: []string{"get", "https://kubernetes.default.svc/healthz"}, want: "200 ok",
			env: []corev1.EnvVar{{Name: "SSL_CERT_FILE", Value: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "client-" + tc.name
			if _, err := c.Client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
					Name: "client", Image: image, Args: tc.args, Env: tc.env,
				}}},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			phase, err := c.WaitPodDone(ctx, "default", name, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			log, err := c.PodLog(ctx, "default", name, "client")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log, tc.want) {
				t.Fatalf("kntrace-probe %s: %s, log %q; want it to contain %q", strings.Join(tc.args, " "), phase, log, tc.want)
			}
			t.Logf("kntrace-probe %s: %s", strings.Join(tc.args, " "), strings.TrimSpace(log))
		})
	}
}
