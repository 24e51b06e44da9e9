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

package activatorhooks

import (
	"context"
	"net/http"
	"net/textproto"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/coldstart"
)

// timelineKey is coldstart.Header in canonical form.
var timelineKey = textproto.CanonicalMIMEHeaderKey(coldstart.Header)

// Transport wraps the transport to the queue-proxy (the one passed to
// activatorhandler.New, inside Knative's otelhttp transport). It removes
// the pod's cold-start timeline from every response and, for a request that
// Handler saw, records the cold-start phases from it.
func (h *Hooks) Transport(rt http.RoundTripper) http.RoundTripper {
	return &transport{h: h, next: rt}
}

type transport struct {
	h    *Hooks
	next http.RoundTripper
}

var _ http.RoundTripper = (*transport)(nil)

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	st := requestFrom(r.Context())
	var sent time.Time
	if st != nil {
		sent = t.h.cfg.now()
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp == nil {
		return resp, err
	}
	vs, ok := resp.Header[timelineKey]
	if !ok {
		return resp, nil
	}
	delete(resp.Header, timelineKey)
	if st != nil {
		var v string
		if len(vs) > 0 {
			v = vs[0]
		}
		t.h.recordColdStart(st, sent, t.h.cfg.now(), v)
	}
	return resp, nil
}

// recordColdStart marks the request span as a cold start and records the
// phase spans from the pod's timeline v. In a scale from zero that several
// requests waited for, the phases go under the episode's leader (the first
// request that waited), from its arrival, whichever request the new pod
// answered first; the cold-start duration is recorded once per episode, with
// the leader's trace as its exemplar. Phase boundaries are clamped to be
// monotonic, so a pod clock that runs ahead or behind shortens phases but
// never yields a negative one.
func (h *Hooks) recordColdStart(st *request, sent, firstByte time.Time, v string) {
	st.span.SetAttributes(semconv.FaaSColdstart(true))
	stamp, err := coldstart.ParseHeader(v)
	if err != nil {
		h.malformed.Add(1)
		h.errOnce.Do(func() { h.cfg.onError(err) })
		return
	}
	start, ready := stamp.Start, stamp.Ready
	handedOff := st.granted
	if handedOff.IsZero() {
		handedOff = sent
	}
	parent, arrival := trace.ContextWithSpan(context.Background(), st.span), st.arrival
	if ep := st.episode; ep != nil && ep.phased.CompareAndSwap(false, true) {
		parent, arrival = trace.ContextWithSpanContext(context.Background(), ep.leader), ep.arrival
		h.coldStarts.Record(parent, firstByte.Sub(arrival).Seconds(), metric.WithAttributes(st.attrs...))
		if h.cfg.onColdStart != nil && stamp.Pod != "" {
			h.cfg.onColdStart(coldstart.Report{
				TraceID: ep.leader.TraceID().String(), SpanID: ep.leader.SpanID().String(),
				Namespace: ep.rev.Namespace, Revision: ep.rev.Name, Pod: stamp.Pod,
				Arrival: arrival, Handoff: later(arrival, handedOff), FirstByte: later(later(arrival, handedOff), firstByte),
				ProcessStart: start, AppReady: ready,
			})
		}
	}
	readyKnown := !ready.IsZero()
	b0 := arrival
	b1 := later(b0, start)
	b2 := b1
	if readyKnown {
		b2 = later(b1, ready)
	}
	b3 := later(b2, handedOff)
	b4 := later(b3, firstByte)
	bounds := [...]time.Time{b0, b1, b2, b3, b4}
	for i, phase := range coldstart.Phases() {
		attrs := make([]attribute.KeyValue, 0, len(st.attrs)+2)
		attrs = append(attrs, attribute.String(coldstart.AttrPhase, phase))
		attrs = append(attrs, st.attrs...)
		if phase == coldstart.PhaseAppInit {
			attrs = append(attrs, attribute.Bool(coldstart.AttrReadyKnown, readyKnown))
		}
		_, s := h.tracer.Start(parent, coldstart.SpanPhasePrefix+phase,
			trace.WithTimestamp(bounds[i]), trace.WithAttributes(attrs...))
		s.End(trace.WithTimestamp(bounds[i+1]))
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
