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
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingclient "knative.dev/eventing/pkg/client/clientset/versioned"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

func testKnativeScaleFromZero(t *testing.T, c *Cluster) {
	ctx := context.Background()
	start := time.Now()
	if err := c.InstallServing(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.InstallTraefik(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Knative Serving and Traefik ready in %s; memory now %d MiB", time.Since(start).Round(time.Millisecond), c.MemoryRSS()>>20)

	image, err := c.GoImage(ctx, ProbeProgram)
	if err != nil {
		t.Fatal(err)
	}
	serving := c.servingClient(t)
	const ns, name = "default", "hello"
	ksvc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	ksvc.Spec.Template.Spec.Containers = []corev1.Container{{Image: image}}
	created := time.Now()
	if _, err := serving.ServingV1().Services(ns).Create(ctx, ksvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitServiceReady(ctx, ns, name, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("Knative Service Ready %s after it was created", time.Since(created).Round(time.Millisecond))

	if err := c.WaitRoute(ctx, ns, name, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// From zero: wait until the revision has no pod left.
	if err := c.WaitNoPods(ctx, ns, "serving.knative.dev/service="+name, 3*time.Minute); err != nil {
		t.Fatal(err)
	}

	req, err := c.NewIngressRequest(ctx, http.MethodGet, ns, name, "/")
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ttfb := time.Since(sent)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "kntrace-probe "+name+"-") {
		t.Fatalf("GET http://%s/ (Host %s) from zero: %s %q; want 200 from the probe", c.IngressAddr, req.Host, resp.Status, body)
	}
	t.Logf("from zero through Traefik: 200 after %s (time to first byte)", ttfb.Round(time.Millisecond))

	sent = time.Now()
	resp, err = http.DefaultClient.Do(req.Clone(ctx))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("warm: %s after %s; memory with one app pod %d MiB", resp.Status, time.Since(sent).Round(time.Millisecond), c.MemoryRSS()>>20)

	// Service to service: a pod calls the Knative Service by its
	// cluster-local name, which resolves to Traefik's private Service.
	const client = "client-cluster-local"
	url := "http://" + name + "." + ns + ".svc." + ClusterDomain + "/"
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: client},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "client", Image: image, Args: []string{"get", url},
		}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	phase, err := c.WaitPodDone(ctx, ns, client, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	log, err := c.PodLog(ctx, ns, client, "client")
	if err != nil {
		t.Fatal(err)
	}
	if phase != corev1.PodSucceeded || !strings.HasPrefix(log, "200 kntrace-probe "+name+"-") {
		t.Fatalf("a pod's GET %s: %s, log %q; want 200 from the probe (through Traefik's private entry point)", url, phase, log)
	}
}

func testKnativeEventing(t *testing.T, c *Cluster) {
	ctx := context.Background()
	start := time.Now()
	if err := c.InstallEventing(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Knative Eventing ready in %s; memory now %d MiB", time.Since(start).Round(time.Millisecond), c.MemoryRSS()>>20)
	eventing, err := eventingclient.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	const ns, name = "default", "default"
	if _, err := eventing.EventingV1().Brokers(ns).Create(ctx, &eventingv1.Broker{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.poll(ctx, 2*time.Minute, "Broker "+name+" Ready", func(ctx context.Context) (string, error) {
		b, err := eventing.EventingV1().Brokers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if cond := b.Status.GetCondition(apis.ConditionReady); cond != nil {
			if cond.IsTrue() {
				return "", nil
			}
			return fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message), nil
		}
		return "no Ready condition yet", nil
	}); err != nil {
		t.Fatal(err)
	}
	b, err := eventing.EventingV1().Brokers(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Broker Ready at %s", b.Status.Address.URL)
}
