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
	"strings"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/plane"
)

// TestUpstreamColdStart is scenario 6: upstream's activator and
// queue-proxy, a revision at zero, a request that scales it from zero.
//   - with B3 multi headers only, the client's trace is cut: Jaeger has no
//     span under the client's trace ID, and the activator starts a new root;
//   - with W3C traceparent, the activator's span continues the client's
//     trace and the queue-proxy's span follows it;
//   - upstream marks no cold start (no faas.coldstart anywhere).
func TestUpstreamColdStart(t *testing.T) {
	p := plane.StartForTest(t, plane.WithIdleTimeout(time.Hour))
	ctx := context.Background()
	if err := p.ApplyFile(ctx, filepath.Join(repoRoot(t), "samples", "helloworld", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	svc, err := p.WaitServiceReady(ctx, "default", "greeter", 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rev := svc.Status.LatestReadyRevisionName
	if got := len(p.Pods("default", rev)); got != 0 {
		t.Fatalf("revision %s starts with %d pods, want 0 (at zero)", rev, got)
	}
	jc := dialJaeger(t, p)

	t.Run("b3 multi headers: broken trace, new root at the activator", func(t *testing.T) {
		traceID, spanID := randHex(t, 16), randHex(t, 8)
		start := time.Now()
		resp := send(t, p, "default", "greeter", "/greet", http.Header{
			"X-B3-Traceid": {traceID}, "X-B3-Spanid": {spanID}, "X-B3-Sampled": {"1"},
		})
		if resp.status != http.StatusOK || resp.body != "Knative" {
			t.Fatalf("cold request: %d %q, want 200 \"Knative\"", resp.status, resp.body)
		}
		logf(t, "upstream, B3 headers: cold start TTFB %s", resp.ttfb.Round(time.Millisecond))

		roots := waitActivatorRoots(t, jc, start, 1)
		tr := roots[0]
		logf(t, "upstream, B3 headers: the activator started trace %s:\n%s", tr.Spans[0].TraceID, describe(tr))
		if tr.Spans[0].TraceID.String() == traceID {
			t.Fatalf("the activator continued the B3 trace %s: upstream is expected to drop it", traceID)
		}
		assertNoColdStartMark(t, tr)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if got, err := jc.GetTrace(ctx, traceID); err == nil {
			t.Fatalf("Jaeger holds %d spans under the client's B3 trace ID %s; upstream is expected to cut it:\n%s", len(got.Spans), traceID, describe(got))
		}
	})

	if err := p.ScaleTo(ctx, "default", rev, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitPods(ctx, "default", rev, 0, time.Minute); err != nil {
		t.Fatal(err)
	}

	t.Run("w3c traceparent: one trace", func(t *testing.T) {
		traceID, spanID := randHex(t, 16), randHex(t, 8)
		resp := send(t, p, "default", "greeter", "/greet", http.Header{
			"Traceparent": {"00-" + traceID + "-" + spanID + "-01"},
		})
		if resp.status != http.StatusOK {
			t.Fatalf("cold request: %d %q", resp.status, resp.body)
		}
		logf(t, "upstream, W3C headers: cold start TTFB %s", resp.ttfb.Round(time.Millisecond))
		tr := waitTrace(t, jc, traceID, 30*time.Second, map[string]func(*model.Span) bool{
			"activator span whose parent is the client's span": func(s *model.Span) bool {
				return serviceIs("activator")(s) && parentIs(s, spanID)
			},
			"queue-proxy span": isQueueProxy,
		})
		logf(t, "upstream, W3C headers: trace %s:\n%s", traceID, describe(tr))
		assertNoColdStartMark(t, tr)
	})
}

// isQueueProxy matches the queue-proxy's own span (upstream names it
// kn.queueproxy.proxy; its process is named after the Knative Service).
func isQueueProxy(s *model.Span) bool {
	return s.Process != nil && strings.HasPrefix(s.OperationName, "kn.queueproxy")
}

// waitActivatorRoots returns traces started after start whose root span is
// the activator's (no parent), waiting until at least n are in Jaeger.
func waitActivatorRoots(t *testing.T, jc *jaeger.Client, start time.Time, n int) []*model.Trace {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		traces, err := jc.FindTraces(ctx, jaeger.Query{Service: "activator", StartMin: start.Add(-time.Second), Limit: 50})
		cancel()
		var roots []*model.Trace
		for _, tr := range traces {
			for _, s := range tr.Spans {
				if serviceIs("activator")(s) && s.ParentSpanID() == 0 && isServer(s) {
					roots = append(roots, tr)
					break
				}
			}
		}
		if len(roots) >= n {
			return roots
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trace rooted at the activator in Jaeger after 30s (FindTraces: %d traces, err %v)", len(traces), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func assertNoColdStartMark(t *testing.T, tr *model.Trace) {
	t.Helper()
	for _, s := range tr.Spans {
		for _, kv := range s.Tags {
			if kv.Key == "faas.coldstart" {
				t.Fatalf("span %s %s has faas.coldstart=%v: upstream is not expected to mark cold starts", s.Process.ServiceName, s.OperationName, kv.Value())
			}
		}
	}
}

func isServer(s *model.Span) bool {
	kind, ok := s.GetSpanKind()
	return ok && kind == model.SpanKindServer
}
