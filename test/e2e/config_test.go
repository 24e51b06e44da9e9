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

package e2e

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kntrace/kntrace/internal/cli"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/plane"
)

// TestConfigRollsPods is scenario 5: with tracing configured at sampling
// rate 0, `kn trace config set` refuses an endpoint that would crash
// Knative's components and nothing rolls; setting rate 1 rolls the running
// pod (the queue-proxy's env comes from config-observability through
// Knative's own pod spec code) and the next request, with no trace headers,
// is traced — the request before it, at rate 0, is not. The requests go to
// the pod as Knative's serve mode does once a revision has capacity (not
// through the activator, which, upstream's and kntrace's alike, reads its
// tracing configuration once at start-up).
func TestConfigRollsPods(t *testing.T) {
	p := startHelloworld(t, plane.WithSamplingRate("0"), plane.WithIdleTimeout(time.Hour))
	ctx := context.Background()
	const rev = "greeter-00001"
	if err := p.ScaleTo(ctx, "default", rev, 1); err != nil {
		t.Fatal(err)
	}
	pods, err := p.WaitPods(ctx, "default", rev, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	first := pods[0].Name
	kn := func(args ...string) (int, string) {
		var out strings.Builder
		code := cli.Execute(ctx, append(args, "--kubeconfig", p.API.Kubeconfig), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &out})
		return code, out.String()
	}

	before := time.Now()
	if resp := sendPod(t, pods[0], "/greet"); resp.status != http.StatusOK {
		t.Fatalf("request at rate 0: %d %q", resp.status, resp.body)
	}
	afterRate0 := time.Now()

	if code, out := kn("config", "set", "--serving", "--endpoint", "10.0.0.1:4317"); code != cli.ExitRefused {
		t.Fatalf("kn trace config set --endpoint 10.0.0.1:4317: exit %d, want %d (refused):\n%s", code, cli.ExitRefused, out)
	}
	if got := p.Pods("default", rev); len(got) != 1 || got[0].Name != first {
		t.Fatalf("pods after a refused change: %+v, want %s alone (nothing rolls)", got, first)
	}

	if code, out := kn("config", "set", "--sampling-rate", "1"); code != cli.ExitOK {
		t.Fatalf("kn trace config set --sampling-rate 1: exit %d:\n%s", code, out)
	}
	rolled := time.Now()
	deadline := time.Now().Add(time.Minute)
	var now plane.Pod
	for {
		got := p.Pods("default", rev)
		if len(got) == 1 && got[0].Name != first {
			now = got[0]
			logf(t, "scenario 5: %s rolled to %s in %s after kn trace config set", first, got[0].Name, time.Since(rolled).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pod did not roll within a minute of the sampling change: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	since := time.Now()
	resp := sendPod(t, now, "/greet")
	if resp.status != http.StatusOK {
		t.Fatalf("request at rate 1: %d %q", resp.status, resp.body)
	}
	jc := dialJaeger(t, p)
	deadline = time.Now().Add(30 * time.Second)
	for {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		traces, err := jc.FindTraces(qctx, jaeger.Query{Service: "greeter", StartMin: since.Add(-time.Second)})
		cancel()
		if err == nil && len(traces) > 0 {
			logf(t, "scenario 5: the request after the change is traced (%d spans)", len(traces[0].Spans))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no greeter trace in Jaeger 30s after the request at rate 1 (err %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	traces, err := jc.FindTraces(qctx, jaeger.Query{Service: "greeter", StartMin: before.Add(-time.Second), StartMax: afterRate0})
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 0 {
		t.Errorf("the request at rate 0 was traced: %d traces", len(traces))
	}
}

// sendPod sends a request straight to a pod's queue-proxy (port 8012), as
// Knative routes once the activator is out of the path.
func sendPod(t *testing.T, pod plane.Pod, path string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pod.IP+":8012"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		t.Fatalf("GET %s on pod %s: %v", path, pod.Name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), ttfb: time.Since(start)}
}

// startHelloworld starts a plane with kntrace's activator and queue-proxy
// and the helloworld sample Ready.
func startHelloworld(t *testing.T, opts ...plane.Option) *plane.Plane {
	t.Helper()
	opts = append([]plane.Option{plane.WithActivator(KntraceActivator), plane.WithQueueProxy(KntraceQueueProxy)}, opts...)
	p := plane.StartForTest(t, opts...)
	ctx := context.Background()
	if err := p.ApplyFile(ctx, filepath.Join(repoRoot(t), "samples", "helloworld", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"helloworld", "greeter"} {
		if _, err := p.WaitServiceReady(ctx, "default", name, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	return p
}
