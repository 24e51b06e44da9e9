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

	"github.com/kntrace/kntrace/test/plane"
)

// KntraceActivator is kntrace's activator, built from this module.
const KntraceActivator = "ko://github.com/kntrace/kntrace/cmd/activator"

// TestKntraceActivatorColdStartB3 is the first half of scenario 1, with
// kntrace's activator and upstream's queue-proxy: a cold-start request with
// B3 multi headers only stays in the client's trace — the activator's
// server span is a child of the client's span and the queue-proxy's span
// follows in the same trace — where upstream starts a new root
// (TestUpstreamColdStart).
func TestKntraceActivatorColdStartB3(t *testing.T) {
	p := plane.StartForTest(t, plane.WithActivator(KntraceActivator), plane.WithIdleTimeout(time.Hour))
	ctx := context.Background()
	if err := p.ApplyFile(ctx, filepath.Join(repoRoot(t), "samples", "helloworld", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitServiceReady(ctx, "default", "greeter", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	jc := dialJaeger(t, p)
	traceID, spanID := randHex(t, 16), randHex(t, 8)
	resp := send(t, p, "default", "greeter", "/greet", http.Header{
		"X-B3-Traceid": {traceID}, "X-B3-Spanid": {spanID}, "X-B3-Sampled": {"1"},
	})
	if resp.status != http.StatusOK || resp.body != "Knative" {
		t.Fatalf("cold request: %d %q, want 200 \"Knative\"", resp.status, resp.body)
	}
	logf(t, "kntrace activator, B3 headers: cold start TTFB %s", resp.ttfb.Round(time.Millisecond))
	tr := waitTrace(t, jc, traceID, 30*time.Second, map[string]func(*model.Span) bool{
		"activator server span whose parent is the client's B3 span": func(s *model.Span) bool {
			return serviceIs("activator")(s) && isServer(s) && parentIs(s, spanID)
		},
		"queue-proxy span": isQueueProxy,
	})
	logf(t, "kntrace activator, B3 headers: trace %s:\n%s", traceID, describe(tr))
}

// TestPolyglotRelay deploys samples/polyglot-relay, an app with the plain
// OpenTelemetry SDK and no tracing configuration, on kntrace's queue-proxy:
// its spans (exported to localhost:4318, the relay) are in the request's
// trace after a cold start.
func TestPolyglotRelay(t *testing.T) {
	p := plane.StartForTest(t, plane.WithActivator(KntraceActivator), plane.WithQueueProxy(KntraceQueueProxy), plane.WithIdleTimeout(time.Hour))
	ctx := context.Background()
	if err := p.ApplyFile(ctx, filepath.Join(repoRoot(t), "samples", "polyglot-relay", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitServiceReady(ctx, "default", "polyglot-relay", 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	jc := dialJaeger(t, p)
	traceID, spanID := randHex(t, 16), randHex(t, 8)
	resp := send(t, p, "default", "polyglot-relay", "/", http.Header{"Traceparent": {"00-" + traceID + "-" + spanID + "-01"}})
	if resp.status != http.StatusOK {
		t.Fatalf("cold request: %d %q", resp.status, resp.body)
	}
	logf(t, "polyglot-relay: cold start TTFB %s", resp.ttfb.Round(time.Millisecond))
	tr := waitTrace(t, jc, traceID, 60*time.Second, map[string]func(*model.Span) bool{
		// No OTEL_SERVICE_NAME: the SDK's default service name, as any
		// unconfigured app would report.
		"the app's server span (plain SDK, via the relay)": func(s *model.Span) bool {
			return s.Process != nil && strings.HasPrefix(s.Process.ServiceName, "unknown_service") && isServer(s)
		},
		"the app's render span": func(s *model.Span) bool { return s.OperationName == "render" },
		"queue-proxy span":      queueProxyOfAny("polyglot-relay"),
	})
	logf(t, "polyglot-relay: trace %s:\n%s", traceID, describe(tr))
}
