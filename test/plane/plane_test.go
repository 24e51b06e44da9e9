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

package plane

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/serving/pkg/apis/serving"
)

func samplePath(tb testing.TB, elem ...string) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", "..", "samples"}, elem...)...)
}

// TestPlaneScaleFromAndToZero runs the helloworld sample on the plane with
// upstream's activator and queue-proxy: the first request scales greeter
// and helloworld from zero through the activator's stat messages, the
// private Service's Endpoints are written as Knative writes them, an idle
// revision scales to zero, and Stop leaves no network namespace behind.
func TestPlaneScaleFromAndToZero(t *testing.T) {
	const idle = 3 * time.Second
	p := StartForTest(t, WithIdleTimeout(idle))
	ctx := context.Background()
	if err := p.ApplyFile(ctx, samplePath(t, "helloworld", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"helloworld", "greeter"} {
		svc, err := p.WaitServiceReady(ctx, "default", name, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := svc.Status.LatestReadyRevisionName, name+"-00001"; got != want {
			t.Errorf("%s: latest ready revision %q, want %q", name, got, want)
		}
		rev, err := p.Serving.ServingV1().Revisions("default").Get(ctx, name+"-00001", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rev.Spec.TimeoutSeconds == nil || rev.Spec.ContainerConcurrency == nil {
			t.Errorf("revision %s: timeoutSeconds %v, containerConcurrency %v: both must be set", rev.Name, rev.Spec.TimeoutSeconds, rev.Spec.ContainerConcurrency)
		}
	}

	req, err := p.NewRequest(ctx, http.MethodGet, "default", "helloworld", "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "Hello, Knative!\n" {
		t.Fatalf("GET helloworld: %d %q; activator log %s", resp.StatusCode, body, p.ActivatorLogPath())
	}
	t.Logf("cold start through two services: %s; %d stat messages", time.Since(start).Round(time.Millisecond), p.StatMessages())

	pods := p.Pods("default", "helloworld-00001")
	if len(pods) != 1 {
		t.Fatalf("helloworld-00001 runs %d pods after the request, want 1", len(pods))
	}
	ep, err := p.kube.CoreV1().Endpoints("default").Get(ctx, "helloworld-00001-private", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Labels[serving.RevisionLabelKey] != "helloworld-00001" || ep.Labels[serving.RevisionUID] == "" || ep.Labels["networking.internal.knative.dev/serviceType"] != "Private" {
		t.Errorf("Endpoints labels %v: want revision, revisionUID and serviceType=Private", ep.Labels)
	}
	if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].IP != pods[0].IP {
		t.Fatalf("Endpoints subsets %+v: want the pod at %s", ep.Subsets, pods[0].IP)
	}
	ports := map[string]int32{}
	for _, pt := range ep.Subsets[0].Ports {
		ports[pt.Name] = pt.Port
	}
	if ports["http"] != 8012 {
		t.Errorf("Endpoints port http = %d, want 8012 (the queue-proxy); ports %v", ports["http"], ports)
	}

	// No traffic: both revisions go back to zero, Endpoints emptied first.
	for _, rev := range []string{"helloworld-00001", "greeter-00001"} {
		if _, err := p.WaitPods(ctx, "default", rev, 0, idle+30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	ep, err = p.kube.CoreV1().Endpoints("default").Get(ctx, "helloworld-00001-private", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.Subsets) != 0 {
		t.Errorf("Endpoints after scale to zero: %+v, want none", ep.Subsets)
	}

	p.Stop()
	out, err := ipCmd("netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, netnsPrefix) {
		t.Errorf("network namespaces left after Stop:\n%s", out)
	}
}

func TestCheckPortsNamesBusyPort(t *testing.T) {
	// Hold the machine's plane lock: no plane can start (and find 8013
	// taken by this test) while the port is held.
	lock, err := acquireLock(context.Background(), DefaultLockWait, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:8013")
	if err != nil {
		t.Fatalf("port 8013 is already taken on this machine: %v", err)
	}
	defer l.Close()
	err = checkPorts()
	if err == nil || !strings.Contains(err.Error(), "8013") {
		t.Fatalf("checkPorts with port 8013 taken: %v, want an error naming the port", err)
	}
}
