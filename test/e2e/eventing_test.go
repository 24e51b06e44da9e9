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

// TestEventingUpstream sends an event through the real broker ingress,
// in-memory channel dispatcher and broker filter to a consumer at zero,
// with upstream's activator and queue-proxy: the W3C trace of the request
// to the producer continues through every eventing hop and the consumer's
// cold start (the baseline of scenario 2).
func TestEventingUpstream(t *testing.T) {
	p := plane.StartForTest(t, plane.WithEventing(), plane.WithIdleTimeout(time.Hour))
	ctx := context.Background()
	if err := p.ApplyFile(ctx, filepath.Join(repoRoot(t), "samples", "eventing", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"producer", "consumer"} {
		if _, err := p.WaitServiceReady(ctx, "default", name, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WaitEventingReady(ctx, "default", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	jc := dialJaeger(t, p)

	traceID, spanID := randHex(t, 16), randHex(t, 8)
	start := time.Now()
	resp := send(t, p, "default", "producer", "/", http.Header{"Traceparent": {"00-" + traceID + "-" + spanID + "-01"}})
	if resp.status != http.StatusAccepted {
		t.Fatalf("producer: %d %q, want 202", resp.status, resp.body)
	}
	if _, err := p.WaitPods(ctx, "default", "consumer-00001", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	logf(t, "upstream eventing: producer answered in %s (producer cold start included)", resp.ttfb.Round(time.Millisecond))
	tr := waitTrace(t, jc, traceID, 60*time.Second, map[string]func(*model.Span) bool{
		"activator span":                    serviceIs("activator"),
		"producer queue-proxy span":         queueProxyOf("producer"),
		"consumer queue-proxy span":         queueProxyOf("consumer"),
		"broker ingress span":               serviceHas("ingress"),
		"in-memory channel dispatcher span": serviceHas("dispatcher"),
		"broker filter span":                serviceHas("filter"),
	})
	logf(t, "upstream eventing: trace %s, event delivered %s after the request:\n%s", traceID, time.Since(start).Round(time.Millisecond), describe(tr))
}

func queueProxyOf(svc string) func(*model.Span) bool {
	return func(s *model.Span) bool { return isQueueProxy(s) && s.Process.ServiceName == svc }
}

func serviceHas(part string) func(*model.Span) bool {
	return func(s *model.Span) bool {
		return s.Process != nil && containsFold(s.Process.ServiceName, part)
	}
}

// TestEventingColdStart is scenario 2: kntrace's activator and
// queue-proxy, producer → Broker → Trigger → consumer at zero. One trace
// holds the producer's send span, the broker ingress, dispatcher and
// filter spans, the consumer's cold start marked at the activator
// (faas.coldstart=true) and the consumer's process span, which links to the
// context that started the event (the CloudEvent's distributed-tracing
// extension, written by the producer).
func TestEventingColdStart(t *testing.T) {
	p := plane.StartForTest(t, plane.WithEventing(), plane.WithActivator(KntraceActivator), plane.WithQueueProxy(KntraceQueueProxy), plane.WithIdleTimeout(time.Hour))
	ctx := context.Background()
	if err := p.ApplyFile(ctx, filepath.Join(repoRoot(t), "samples", "eventing", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"producer", "consumer"} {
		if _, err := p.WaitServiceReady(ctx, "default", name, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WaitEventingReady(ctx, "default", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	jc := dialJaeger(t, p)
	traceID, spanID := randHex(t, 16), randHex(t, 8)
	start := time.Now()
	resp := send(t, p, "default", "producer", "/", http.Header{"X-B3-Traceid": {traceID}, "X-B3-Spanid": {spanID}, "X-B3-Sampled": {"1"}})
	if resp.status != http.StatusAccepted {
		t.Fatalf("producer: %d %q, want 202", resp.status, resp.body)
	}
	tr := waitTrace(t, jc, traceID, 60*time.Second, map[string]func(*model.Span) bool{
		"producer send span":                func(s *model.Span) bool { return s.OperationName == "send dev.kntrace.samples.greeting" },
		"broker ingress span":               serviceHas("ingress"),
		"in-memory channel dispatcher span": serviceHas("dispatcher"),
		"broker filter span":                serviceHas("filter"),
		"activator span marked faas.coldstart=true": func(s *model.Span) bool {
			return serviceIs("activator")(s) && tagIs(s, "faas.coldstart", "true")
		},
		"consumer queue-proxy span": queueProxyOfAny("consumer"),
		"consumer process span":     func(s *model.Span) bool { return s.OperationName == "process dev.kntrace.samples.greeting" },
	})
	var send, process *model.Span
	for _, s := range tr.Spans {
		switch s.OperationName {
		case "send dev.kntrace.samples.greeting":
			send = s
		case "process dev.kntrace.samples.greeting":
			process = s
		}
	}
	linked := false
	for _, ref := range process.References {
		if ref.SpanID == send.SpanID && ref.TraceID == send.TraceID && ref.SpanID != process.ParentSpanID() {
			linked = true
		}
	}
	if !linked {
		t.Errorf("the consumer's process span %s does not link to the producer's send span %s: references %+v", process.SpanID, send.SpanID, process.References)
	}
	// The consumer's cold start: an activator span marked
	// faas.coldstart=true above the consumer's process span.
	var consumerWait time.Duration
	best := -1
	for _, s := range tr.Spans {
		if !serviceIs("activator")(s) || !tagIs(s, "faas.coldstart", "true") {
			continue
		}
		if d := ancestorDistance(tr, s, process); d > 0 && (best < 0 || d < best) {
			best, consumerWait = d, s.Duration
		}
	}
	if consumerWait == 0 {
		t.Errorf("no activator span marked faas.coldstart=true above the consumer's process span:\n%s", describe(tr))
	}
	logf(t, "scenario 2 (eventing): producer TTFB %s (its own cold start), consumer's cold start at the activator %s, event processed %s after the request; trace %s:\n%s",
		resp.ttfb.Round(time.Millisecond), consumerWait.Round(time.Millisecond), process.StartTime.Add(process.Duration).Sub(start).Round(time.Millisecond), traceID, describe(tr))
}

// ancestorDistance returns how many parent steps lead from s up to a in
// tr, or -1 when a is not an ancestor of s.
func ancestorDistance(tr *model.Trace, a, s *model.Span) int {
	byID := map[model.SpanID]*model.Span{}
	for _, x := range tr.Spans {
		byID[x.SpanID] = x
	}
	d := 1
	for cur := s; cur != nil && d <= len(tr.Spans); cur, d = byID[cur.ParentSpanID()], d+1 {
		if cur.ParentSpanID() == a.SpanID {
			return d
		}
	}
	return -1
}
