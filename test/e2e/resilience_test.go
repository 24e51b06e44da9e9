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
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/test/plane"
)

// appAndQueueSpans are the spans of one helloworld → greeter request that
// the pods make (queue-proxies and apps); scenarios 3 and 4 want all of
// them in Jaeger.
func appAndQueueSpans() map[string]func(*model.Span) bool {
	return map[string]func(*model.Span) bool{
		"helloworld app span":    func(s *model.Span) bool { return serviceIs("helloworld")(s) && s.OperationName == "helloworld" },
		"helloworld client span": func(s *model.Span) bool { return serviceIs("helloworld")(s) && s.OperationName == "HTTP GET" },
		"greeter app span":       func(s *model.Span) bool { return serviceIs("greeter")(s) && s.OperationName == "greeter" },
		"greeter's child span":   func(s *model.Span) bool { return s.OperationName == "compose greeting" },
		"helloworld queue-proxy": queueProxyOfAny("helloworld"),
		"greeter queue-proxy":    queueProxyOfAny("greeter"),
	}
}

func countPodSpans(tr *model.Trace) int {
	n := 0
	for _, s := range tr.Spans {
		if serviceIs("helloworld")(s) || serviceIs("greeter")(s) {
			n++
		}
	}
	return n
}

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

// TestCollectorDownDuringColdStart is scenario 3: the Collector is stopped,
// a cold-start request runs through both services, the Collector starts
// again later; every span the pods made for that request reaches Jaeger
// (the queue-proxy's relay and the apps' buffers held them).
func TestCollectorDownDuringColdStart(t *testing.T) {
	p := startHelloworld(t, plane.WithIdleTimeout(time.Hour))
	jc := dialJaeger(t, p)
	p.Backends.Collector.Stop()
	traceID, spanID := randHex(t, 16), randHex(t, 8)
	resp := send(t, p, "default", "helloworld", "/", http.Header{"Traceparent": {"00-" + traceID + "-" + spanID + "-01"}})
	if resp.status != http.StatusOK {
		t.Fatalf("cold request with the Collector down: %d %q", resp.status, resp.body)
	}
	logf(t, "scenario 3 (Collector down): cold start TTFB %s", resp.ttfb.Round(time.Millisecond))
	// Long enough for every exporter to have tried and failed at least once.
	time.Sleep(3 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Backends.Collector.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tr := waitTrace(t, jc, traceID, 90*time.Second, appAndQueueSpans())
	logf(t, "scenario 3: %d spans from the pods reached Jaeger after the Collector came back:\n%s", countPodSpans(tr), describe(tr))
}

// TestScaleToZeroKeepsSpans is scenario 4: the spans of the last request
// before the revisions scale to zero are all in Jaeger once the pods are
// gone (the queue-proxy drains its relay and the apps flush at SIGTERM).
func TestScaleToZeroKeepsSpans(t *testing.T) {
	const idle = 2 * time.Second
	// The grace covers the queue-proxy's drain: nothing is SIGKILLed.
	p := startHelloworld(t, plane.WithIdleTimeout(idle), plane.WithStopGrace(45*time.Second))
	jc := dialJaeger(t, p)
	traceID, spanID := randHex(t, 16), randHex(t, 8)
	resp := send(t, p, "default", "helloworld", "/", http.Header{"Traceparent": {"00-" + traceID + "-" + spanID + "-01"}})
	if resp.status != http.StatusOK {
		t.Fatalf("request: %d %q", resp.status, resp.body)
	}
	logf(t, "scenario 4 (scale to zero): cold start TTFB %s", resp.ttfb.Round(time.Millisecond))
	ctx := context.Background()
	start := time.Now()
	for _, rev := range []string{"helloworld-00001", "greeter-00001"} {
		if _, err := p.WaitPods(ctx, "default", rev, 0, idle+90*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	logf(t, "scenario 4: both revisions at zero %s after the response", time.Since(start).Round(time.Millisecond))
	tr := waitTrace(t, jc, traceID, 30*time.Second, appAndQueueSpans())
	logf(t, "scenario 4: %d spans from the pods in Jaeger after scale to zero", countPodSpans(tr))
}
