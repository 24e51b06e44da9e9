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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/activatorhooks"
	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/test/plane"
)

// KntraceQueueProxy is kntrace's queue-proxy, built from this module and
// set as config-deployment's queue-sidecar-image.
const KntraceQueueProxy = "ko://github.com/kntrace/kntrace/cmd/queue"

// phaseTolerance is how far the sum of the pod_start, app_init and
// readiness phases may be from the activator's measured wait.
const phaseTolerance = 50 * time.Millisecond

// TestColdStartOverHTTP is scenario 1: kntrace's activator and queue-proxy,
// helloworld (which calls greeter) at zero, one request with B3 multi
// headers only. One trace under the client's trace ID holds the
// activator's request span marked faas.coldstart=true with its four phase
// spans, the queue-proxies' spans, helloworld's and greeter's spans (sent
// by the apps to localhost:4318, the queue-proxy's relay); the phases add
// up to the activator's wait.
func TestColdStartOverHTTP(t *testing.T) {
	p := plane.StartForTest(t, plane.WithActivator(KntraceActivator), plane.WithQueueProxy(KntraceQueueProxy), plane.WithIdleTimeout(time.Hour))
	ctx := context.Background()
	if err := p.ApplyFile(ctx, filepath.Join(repoRoot(t), "samples", "helloworld", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"helloworld", "greeter"} {
		if _, err := p.WaitServiceReady(ctx, "default", name, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	jc := dialJaeger(t, p)
	traceID, spanID := randHex(t, 16), randHex(t, 8)
	resp := send(t, p, "default", "helloworld", "/", http.Header{
		"X-B3-Traceid": {traceID}, "X-B3-Spanid": {spanID}, "X-B3-Sampled": {"1"},
	})
	if resp.status != http.StatusOK || resp.body != "Hello, Knative!\n" {
		t.Fatalf("cold request: %d %q, want 200 \"Hello, Knative!\"", resp.status, resp.body)
	}
	want := map[string]func(*model.Span) bool{
		"activator request span, child of the client's B3 span, faas.coldstart=true": func(s *model.Span) bool {
			return serviceIs("activator")(s) && parentIs(s, spanID) && tagIs(s, "faas.coldstart", "true")
		},
		"helloworld app span":    func(s *model.Span) bool { return serviceIs("helloworld")(s) && s.OperationName == "helloworld" },
		"greeter app span":       func(s *model.Span) bool { return serviceIs("greeter")(s) && s.OperationName == "greeter" },
		"greeter's child span":   func(s *model.Span) bool { return s.OperationName == "compose greeting" },
		"helloworld queue-proxy": queueProxyOfAny("helloworld"),
		"greeter queue-proxy":    queueProxyOfAny("greeter"),
	}
	for _, ph := range coldstart.Phases() {
		want["phase span "+ph] = func(s *model.Span) bool {
			return serviceIs("activator")(s) && s.OperationName == coldstart.SpanPhasePrefix+ph
		}
	}
	tr := waitTrace(t, jc, traceID, 60*time.Second, want)
	logf(t, "scenario 1 (kntrace, B3 headers): cold start TTFB %s; trace %s:\n%s", resp.ttfb.Round(time.Millisecond), traceID, describe(tr))

	// The phases of helloworld's cold start (the first activator request
	// span of the trace) add up to the activator's wait.
	root := firstColdStart(tr, spanID)
	if root == nil {
		t.Fatal("no cold-start activator span under the client's span")
	}
	phases := map[string]time.Duration{}
	for _, s := range tr.Spans {
		if s.ParentSpanID() == root.SpanID && strings.HasPrefix(s.OperationName, coldstart.SpanPhasePrefix) {
			phases[strings.TrimPrefix(s.OperationName, coldstart.SpanPhasePrefix)] = s.Duration
		}
	}
	var waitMs float64 = -1
	for _, s := range tr.Spans {
		if s.ParentSpanID() != root.SpanID {
			continue
		}
		for _, kv := range s.Tags {
			if kv.Key == activatorhooks.AttrWaitMs {
				switch kv.VType {
				case model.ValueType_INT64:
					waitMs = float64(kv.VInt64)
				case model.ValueType_FLOAT64:
					waitMs = kv.VFloat64
				default:
					waitMs, _ = strconv.ParseFloat(kv.AsString(), 64)
				}
			}
		}
	}
	if waitMs < 0 {
		t.Fatalf("no %s attribute on the activator's wait span", activatorhooks.AttrWaitMs)
	}
	wait := time.Duration(waitMs * float64(time.Millisecond))
	sum := phases[coldstart.PhasePodStart] + phases[coldstart.PhaseAppInit] + phases[coldstart.PhaseReadiness]
	logf(t, "scenario 1 phases: pod_start %s + app_init %s + readiness %s = %s; activator wait %s; proxy %s",
		phases[coldstart.PhasePodStart].Round(time.Millisecond), phases[coldstart.PhaseAppInit].Round(time.Millisecond),
		phases[coldstart.PhaseReadiness].Round(time.Millisecond), sum.Round(time.Millisecond), wait.Round(time.Millisecond),
		phases[coldstart.PhaseProxy].Round(time.Millisecond))
	if d := sum - wait; d > phaseTolerance || d < -phaseTolerance {
		t.Errorf("phases add up to %s, the activator waited %s: off by %s, tolerance %s", sum, wait, d, phaseTolerance)
	}
}

func tagIs(s *model.Span, key, value string) bool {
	for _, kv := range s.Tags {
		if kv.Key == key && kv.AsString() == value {
			return true
		}
	}
	return false
}

// queueProxyOfAny matches a span of the queue-proxy of Knative Service svc
// (its process carries k8s.container.name=queue-proxy, or its operation is
// one of upstream's kn.queueproxy.* names).
func queueProxyOfAny(svc string) func(*model.Span) bool {
	return func(s *model.Span) bool {
		if s.Process == nil || s.Process.ServiceName != svc {
			return false
		}
		if strings.HasPrefix(s.OperationName, "kn.queueproxy") {
			return true
		}
		for _, kv := range s.Process.Tags {
			if kv.Key == "k8s.container.name" && kv.AsString() == "queue-proxy" {
				return true
			}
		}
		return false
	}
}

// firstColdStart returns the activator span that is a child of the client's
// span and marked faas.coldstart=true.
func firstColdStart(tr *model.Trace, clientSpan string) *model.Span {
	for _, s := range tr.Spans {
		if serviceIs("activator")(s) && parentIs(s, clientSpan) && tagIs(s, "faas.coldstart", "true") {
			return s
		}
	}
	return nil
}
