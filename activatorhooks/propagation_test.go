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

package activatorhooks_test

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/activatorhooks"
	kpropagation "github.com/kntrace/kntrace/propagation"
)

const (
	callerTrace = "80f198ee56343ba864fe8b2a57d3eff7"
	callerSpan  = "e457b5a2e4d86bd1"
	w3cTrace    = "4bf92f3577b34da6a3ce929d0e0e4736"
	w3cSpan     = "00f067aa0ba902b7"
)

// TestEdgeContinuesCallerTrace: whatever format the caller speaks, the
// activator's request span is a child of the caller's span; upstream's
// chain (W3C only) continues only W3C and starts a new trace otherwise.
func TestEdgeContinuesCallerTrace(t *testing.T) {
	tests := []struct {
		name      string
		in        http.Header
		wantTrace string
		wantSpan  string
		upstream  bool // whether upstream's chain continues it too
	}{{
		name:      "W3C",
		in:        http.Header{"Traceparent": {"00-" + w3cTrace + "-" + w3cSpan + "-01"}},
		wantTrace: w3cTrace, wantSpan: w3cSpan, upstream: true,
	}, {
		name:      "B3 single",
		in:        http.Header{"B3": {callerTrace + "-" + callerSpan + "-1"}},
		wantTrace: callerTrace, wantSpan: callerSpan,
	}, {
		name: "B3 multi",
		in: http.Header{"X-B3-Traceid": {callerTrace}, "X-B3-Spanid": {callerSpan},
			"X-B3-Sampled": {"1"}},
		wantTrace: callerTrace, wantSpan: callerSpan,
	}, {
		name:      "B3 single, 64-bit trace ID",
		in:        http.Header{"B3": {"a3ce929d0e0e4736-" + callerSpan + "-1"}},
		wantTrace: "0000000000000000a3ce929d0e0e4736", wantSpan: callerSpan,
	}, {
		name:      "Jaeger",
		in:        http.Header{"Uber-Trace-Id": {callerTrace + ":" + callerSpan + ":0:1"}},
		wantTrace: callerTrace, wantSpan: callerSpan,
	}, {
		name: "W3C and a stale B3: W3C wins",
		in: http.Header{"Traceparent": {"00-" + w3cTrace + "-" + w3cSpan + "-01"},
			"B3": {callerTrace + "-" + callerSpan + "-1"}},
		wantTrace: w3cTrace, wantSpan: w3cSpan, upstream: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chain := range []string{"kntrace", "upstream"} {
				tp, exp := newTracer(t, sdktrace.ParentBased(sdktrace.NeverSample()))
				qp := newQueueProxy(t, nil)
				var h http.Handler
				if chain == "kntrace" {
					hooks := activatorhooks.New(activatorhooks.WithTracerProvider(tp))
					setGlobalPropagator(t, hooks.Propagator())
					h = kntraceChain(hooks, tp, fakeThrottler{dest: qp.dest()}, http.DefaultTransport)
				} else {
					setGlobalPropagator(t, propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
					h = upstreamChain(tp, fakeThrottler{dest: qp.dest()}, http.DefaultTransport)
				}
				if rec := serve(h, tt.in); rec.Code != http.StatusOK {
					t.Fatalf("%s: status = %d, want 200", chain, rec.Code)
				}
				spans := exp.GetSpans()
				continues := len(spans) > 0
				if continues {
					server := serverSpan(t, spans)
					got := server.Parent.TraceID().String() + "/" + server.Parent.SpanID().String()
					if want := tt.wantTrace + "/" + tt.wantSpan; got != want {
						t.Errorf("%s: request span parent = %s, want the caller's %s", chain, got, want)
					}
					if !server.Parent.IsRemote() {
						t.Errorf("%s: request span parent is not remote", chain)
					}
					// The queue-proxy gets the trace, its parent is the client span.
					tp := qp.requests()[0].Get("traceparent")
					if !strings.HasPrefix(tp, "00-"+tt.wantTrace+"-") {
						t.Errorf("%s: traceparent to the queue-proxy = %q, want trace %s", chain, tp, tt.wantTrace)
					}
				}
				// The tracer never samples a root: spans exist only when the
				// caller's sampled context was continued.
				if want := chain == "kntrace" || tt.upstream; continues != want {
					t.Errorf("%s: continued the caller's trace = %v, want %v", chain, continues, want)
				}
			}
		})
	}
}

// TestTransportInjectsConfiguredFormats: with the bridge installed as the
// global propagator, the request to the queue-proxy carries every
// configured format, naming the activator's client span.
func TestTransportInjectsConfiguredFormats(t *testing.T) {
	tests := []struct {
		name    string
		formats []kpropagation.Format
		want    []string // headers expected on the request to the queue-proxy
		notWant []string
	}{
		{"default", nil, []string{"Traceparent"}, []string{"B3", "Uber-Trace-Id", "X-B3-Traceid"}},
		{"tracecontext,b3", []kpropagation.Format{kpropagation.TraceContext, kpropagation.B3}, []string{"Traceparent", "B3"}, []string{"Uber-Trace-Id"}},
		{"b3multi,jaeger", []kpropagation.Format{kpropagation.B3Multi, kpropagation.Jaeger}, []string{"X-B3-Traceid", "X-B3-Spanid", "Uber-Trace-Id"}, []string{"Traceparent", "B3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, exp := newTracer(t, sdktrace.AlwaysSample())
			qp := newQueueProxy(t, nil)
			var opts []activatorhooks.Option
			if tt.formats != nil {
				opts = append(opts, activatorhooks.WithPropagator(kpropagation.New(kpropagation.WithFormats(tt.formats...),
					kpropagation.WithExtractOrder(kpropagation.DefaultExtractOrder()...))))
			}
			hooks := activatorhooks.New(append(opts, activatorhooks.WithTracerProvider(tp))...)
			setGlobalPropagator(t, hooks.Propagator())
			serve(kntraceChain(hooks, tp, fakeThrottler{dest: qp.dest()}, http.DefaultTransport),
				http.Header{"B3": {callerTrace + "-" + callerSpan + "-1"}})
			var client trace.SpanContext
			for _, s := range exp.GetSpans() {
				if s.SpanKind == trace.SpanKindClient {
					client = s.SpanContext
				}
			}
			got := qp.requests()[0]
			for _, k := range tt.want {
				v := got.Get(k)
				if !strings.Contains(v, client.SpanID().String()) && k != "X-B3-Traceid" {
					t.Errorf("%s = %q, want the client span %s", k, v, client.SpanID())
				}
				if v == "" {
					t.Errorf("%s missing on the request to the queue-proxy", k)
				}
			}
			// The caller's B3 header, stale behind the activator, is not
			// forwarded unless B3 is written.
			for _, k := range tt.notWant {
				if v := got.Get(k); v != "" {
					t.Errorf("%s = %q on the request to the queue-proxy, want none", k, v)
				}
			}
			if got.Get("Traceparent") != "" && !strings.HasPrefix(got.Get("Traceparent"), "00-"+callerTrace+"-"+client.SpanID().String()) {
				t.Errorf("traceparent = %q, want trace %s, parent %s", got.Get("Traceparent"), callerTrace, client.SpanID())
			}
		})
	}
}
