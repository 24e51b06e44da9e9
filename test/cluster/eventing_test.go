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
	"slices"
	"strings"
	"testing"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingclient "knative.dev/eventing/pkg/client/clientset/versioned"
	"knative.dev/pkg/apis"

	"github.com/kntrace/kntrace/coldstart"
)

// The eventing sample: producer → Broker default → Trigger consumer →
// consumer.
const (
	eventProducer  = "producer"
	eventConsumer  = "consumer"
	eventTrigger   = "consumer"
	eventSendSpan  = "send dev.kntrace.samples.greeting"
	eventProcSpan  = "process dev.kntrace.samples.greeting"
	eventingSample = "samples/eventing/service.yaml"
)

// testEventingColdStart deploys the eventing sample with `ko apply`, lets
// producer and consumer scale to zero and sends one request with B3
// headers to the producer through Traefik. One trace holds it whole: no
// orphan; the producer's send span; the broker's ingress, the in-memory
// channel's dispatcher and the broker's filter; and the consumer's process
// span, linked to the send span (the CloudEvent's traceparent). Each cold
// start is its own: the activator hop right above each Service's
// queue-proxy is marked faas.coldstart=true and holds that pod's
// Kubernetes phases, inside its wait, and the consumer's activator hop is
// entered from the broker's filter.
func testEventingColdStart(t *testing.T, c *Cluster) {
	ctx := context.Background()
	eventing, err := eventingclient.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.withToolsLock(ctx, func() error {
		_, err := c.Ko(ctx, "kntrace", "apply", "-f", eventingSample)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{eventProducer, eventConsumer} {
		if err := c.WaitServiceReady(ctx, sampleNS, name, 3*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.poll(ctx, 2*time.Minute, "Trigger "+eventTrigger+" Ready", func(ctx context.Context) (string, error) {
		tr, err := eventing.EventingV1().Triggers(sampleNS).Get(ctx, eventTrigger, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if cond := tr.Status.GetCondition(apis.ConditionReady); cond != nil && !cond.IsTrue() {
			return fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message), nil
		} else if cond == nil {
			return "no Ready condition yet", nil
		}
		return "", nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitRoute(ctx, sampleNS, eventProducer, time.Minute); err != nil {
		t.Fatal(err)
	}
	selector := "serving.knative.dev/service in (" + eventProducer + "," + eventConsumer + ")"
	if err := c.WaitNoPods(ctx, sampleNS, selector, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	jc, err := c.DialJaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()

	traceID, clientSpan := newTraceParent(t)
	req, err := c.NewIngressRequest(ctx, http.MethodGet, sampleNS, eventProducer, "/")
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-B3-TraceId", traceID)
	req.Header.Set("X-B3-SpanId", clientSpan)
	req.Header.Set("X-B3-Sampled", "1")
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ttfb := time.Since(sent)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("GET %s from zero through Traefik: %s %q; want 202 Accepted", eventProducer, resp.Status, body)
	}

	var tr *model.Trace
	if err := c.poll(ctx, 2*time.Minute, "the event's trace "+traceID+" whole in Jaeger", func(ctx context.Context) (string, error) {
		got, err := jc.GetTrace(ctx, traceID)
		if err != nil {
			return err.Error(), nil
		}
		tr = got
		return strings.Join(checkEventTrace(tr, clientSpan), "; "), nil
	}); err != nil {
		t.Fatalf("%v\nthe last trace Jaeger returned:\n%s", err, describeHops(tr))
	}
	var process *model.Span
	for _, s := range tr.Spans {
		if s.OperationName == eventProcSpan {
			process = s
		}
	}
	wait := coldHop(tr, eventConsumer)
	t.Logf("producer from zero through Traefik: %s after %s (time to first byte); the consumer's own cold start at the activator %s; the event processed %s after the request; trace %s, %d spans:\n%s",
		resp.Status, ttfb.Round(time.Millisecond), wait.Duration.Round(time.Millisecond),
		process.StartTime.Add(process.Duration).Sub(sent).Round(time.Millisecond), traceID, len(tr.Spans), describeHops(tr))
}

// checkEventTrace returns what the eventing sample's trace lacks; see
// testEventingColdStart.
func checkEventTrace(tr *model.Trace, clientSpan string) []string {
	problems := orphans(tr, clientSpan)
	byID := spansByID(tr)
	find := func(ok func(*model.Span) bool) *model.Span {
		for _, s := range tr.Spans {
			if ok(s) {
				return s
			}
		}
		return nil
	}
	named := func(op string) func(*model.Span) bool {
		return func(s *model.Span) bool { return s.OperationName == op }
	}
	service := func(part string) func(*model.Span) bool {
		return func(s *model.Span) bool { return s.Process != nil && strings.Contains(s.Process.ServiceName, part) }
	}
	send, process := find(named(eventSendSpan)), find(named(eventProcSpan))
	for _, want := range []struct {
		what string
		span *model.Span
	}{
		{"the producer's send span", send},
		{"the broker ingress's span", find(service("ingress"))},
		{"the in-memory channel dispatcher's span", find(service("dispatcher"))},
		{"the broker filter's span", find(service("filter"))},
		{"the consumer's process span", process},
	} {
		if want.span == nil {
			problems = append(problems, "no "+want.what)
		}
	}
	if send != nil && process != nil && !slices.ContainsFunc(process.References, func(r model.SpanRef) bool { return r.SpanID == send.SpanID }) {
		problems = append(problems, fmt.Sprintf("the consumer's process span %s does not link to the send span %s", process.SpanID, send.SpanID))
	}
	for _, svc := range []string{eventProducer, eventConsumer} {
		wait := coldHop(tr, svc)
		if wait == nil {
			problems = append(problems, "no activator span marked faas.coldstart=true right above "+svc+"'s queue-proxy")
			continue
		}
		i := slices.IndexFunc(tr.Spans, func(s *model.Span) bool {
			return s.OperationName == coldstart.SpanKubernetes && s.ParentSpanID() == wait.SpanID
		})
		if i < 0 {
			problems = append(problems, svc+"'s cold start has no "+coldstart.SpanKubernetes+" span under its marked activator span")
		} else if k := tr.Spans[i]; k.StartTime.Before(wait.StartTime.Add(-boundarySlack)) || k.StartTime.Add(k.Duration).After(wait.StartTime.Add(wait.Duration+boundarySlack)) {
			problems = append(problems, fmt.Sprintf("%s's Kubernetes phases (%s from %s) lie outside its activator span's wait (%s from %s)",
				svc, k.Duration, k.StartTime.Format(time.StampMicro), wait.Duration, wait.StartTime.Format(time.StampMicro)))
		}
		if svc != eventConsumer {
			continue
		}
		// The consumer's activator hop is entered from the broker's filter.
		top := wait
		for p := byID[top.ParentSpanID()]; p != nil && hop(p) == hopActivator; p = byID[p.ParentSpanID()] {
			top = p
		}
		if p := byID[top.ParentSpanID()]; p == nil || !service("filter")(p) {
			problems = append(problems, "the consumer's activator hop is not entered from the broker filter's span")
		}
	}
	return problems
}

// coldHop is the activator span marked faas.coldstart=true among the
// activator spans right above a span of svc's queue-proxy (nil if none).
func coldHop(tr *model.Trace, svc string) *model.Span {
	byID := spansByID(tr)
	for _, s := range tr.Spans {
		if hop(s) != hopQueueProxy+":"+svc {
			continue
		}
		for p := byID[s.ParentSpanID()]; p != nil && hop(p) == hopActivator; p = byID[p.ParentSpanID()] {
			if isColdStart(p) {
				return p
			}
		}
	}
	return nil
}

func isColdStart(s *model.Span) bool {
	return slices.ContainsFunc(s.Tags, func(kv model.KeyValue) bool { return kv.Key == "faas.coldstart" && kv.AsString() == "true" })
}

func spansByID(tr *model.Trace) map[model.SpanID]*model.Span {
	byID := make(map[model.SpanID]*model.Span, len(tr.Spans))
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	return byID
}

// orphans names every span of tr whose parent is not in it, but for those
// under clientSpan (the caller's, never exported), and every root.
func orphans(tr *model.Trace, clientSpan string) []string {
	byID := spansByID(tr)
	client, err := model.SpanIDFromString(clientSpan)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, s := range tr.Spans {
		switch p := s.ParentSpanID(); {
		case p == client:
		case p == 0:
			problems = append(problems, fmt.Sprintf("%s %q is a root inside the client's trace", hop(s), s.OperationName))
		case byID[p] == nil:
			problems = append(problems, fmt.Sprintf("%s %q: parent %s not in the trace (orphan)", hop(s), s.OperationName, p))
		}
	}
	return problems
}
