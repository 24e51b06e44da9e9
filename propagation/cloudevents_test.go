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

package propagation_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/client"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

func newEvent(t *testing.T) event.Event {
	t.Helper()
	e := event.New()
	e.SetID("evt-1")
	e.SetSource("/kntrace/test")
	e.SetType("dev.kntrace.test")
	if err := e.SetData(event.ApplicationJSON, map[string]string{"hello": "world"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEventCarrier(t *testing.T) {
	ts, _ := trace.ParseTraceState("rojo=00f067aa0ba902b7")
	tid, _ := trace.TraceIDFromHex(tid128)
	sp, _ := trace.SpanIDFromHex(sid)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sp, TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: true})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	t.Run("InjectEvent and ExtractEvent", func(t *testing.T) {
		e := newEvent(t)
		propagation.InjectEvent(ctx, &e)
		if err := e.Validate(); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"traceparent": "00-" + tid128 + "-" + sid + "-01", "tracestate": "rojo=00f067aa0ba902b7"}
		if diff := cmp.Diff(want, e.Extensions()); diff != "" {
			t.Fatalf("extensions (-want +got):\n%s", diff)
		}
		if got := trace.SpanContextFromContext(propagation.ExtractEvent(context.Background(), e)); !got.Equal(sc) {
			t.Fatalf("extracted %s, want %s", dumpSC(got), dumpSC(sc))
		}
	})
	t.Run("carrier works with the OpenTelemetry propagator", func(t *testing.T) {
		e := newEvent(t)
		otelprop.TraceContext{}.Inject(ctx, propagation.EventCarrier{Event: &e})
		got := trace.SpanContextFromContext(otelprop.TraceContext{}.Extract(context.Background(), propagation.EventCarrier{Event: &e}))
		if !got.Equal(sc) {
			t.Fatalf("extracted %s, want %s", dumpSC(got), dumpSC(sc))
		}
		if diff := cmp.Diff([]string{"traceparent", "tracestate"}, propagation.EventCarrier{Event: &e}.Keys()); diff != "" {
			t.Fatalf("keys (-want +got):\n%s", diff)
		}
	})
	t.Run("invalid names and zero events are ignored", func(t *testing.T) {
		e := newEvent(t)
		c := propagation.EventCarrier{Event: &e}
		c.Set("not-valid!", "x")
		if err := e.Validate(); err != nil {
			t.Fatalf("event made invalid: %v", err)
		}
		var zero event.Event
		propagation.EventCarrier{Event: &zero}.Set("traceparent", "x")
		if got := (propagation.EventCarrier{Event: &zero}).Get("traceparent"); got != "" {
			t.Fatalf("zero event Get = %q", got)
		}
	})
	t.Run("malformed extension is no context", func(t *testing.T) {
		e := newEvent(t)
		e.SetExtension("traceparent", "00-"+tid128+"-"+sid+"-zz")
		if propagation.EventSpanContext(e).IsValid() {
			t.Fatal("malformed traceparent extension accepted")
		}
	})
}

// TestCloudEventsHTTPRoundTrip sends an event with the sdk-go HTTP client to
// an sdk-go receiver, directly and through a broker-like hop that continues
// the HTTP trace but forwards the event (and its extension) untouched.
func TestCloudEventsHTTPRoundTrip(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	prop := propagation.New()

	// Consumer: an sdk-go receive handler.
	consumed := make(chan trace.SpanContext, 1)
	rp, err := cehttp.New()
	if err != nil {
		t.Fatal(err)
	}
	recv, err := client.NewHTTPReceiveHandler(context.Background(), rp, func(ctx context.Context, e event.Event) {
		_, span := prop.StartConsumerSpan(ctx, tp.Tracer("consumer"), e, nil)
		span.End()
		consumed <- span.SpanContext()
	})
	if err != nil {
		t.Fatal(err)
	}
	consumer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recv.ServeHTTP(w, r.WithContext(cehttp.WithRequestDataAtContext(r.Context(), r)))
	}))
	t.Cleanup(consumer.Close)

	// Broker: W3C only, like an upstream Knative broker ingress.
	knative := otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{}, otelprop.Baggage{})
	brokerSpans := make(chan trace.SpanContext, 1)
	broker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tp.Tracer("broker").Start(knative.Extract(r.Context(), otelprop.HeaderCarrier(r.Header)), "broker")
		defer span.End()
		brokerSpans <- span.SpanContext()
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, consumer.URL, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		knative.Inject(ctx, otelprop.HeaderCarrier(req.Header))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
	}))
	t.Cleanup(broker.Close)

	tests := []struct {
		name       string
		target     string
		viaBroker  bool
		wantLinked bool
	}{
		{name: "direct: header and extension agree, no link", target: consumer.URL},
		{name: "through a broker: parent is the broker, link to the producer", target: broker.URL, viaBroker: true, wantLinked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp.Reset()
			sp, err := cehttp.New(cehttp.WithTarget(tt.target))
			if err != nil {
				t.Fatal(err)
			}
			c, err := client.New(sp)
			if err != nil {
				t.Fatal(err)
			}
			ctx, producer := tp.Tracer("producer").Start(context.Background(), "send dev.kntrace.test", trace.WithSpanKind(trace.SpanKindProducer))
			e := newEvent(t)
			if res := c.Send(prop.ProducerContext(ctx, &e), e); !protocol.IsACK(res) {
				producer.End()
				t.Fatalf("send: %v", res)
			}
			producer.End()

			var got trace.SpanContext
			select {
			case got = <-consumed:
			case <-time.After(10 * time.Second):
				t.Fatal("timed out after 10s waiting for the consumer to process the event")
			}
			var span tracetest.SpanStub
			for _, s := range exp.GetSpans() {
				if s.SpanContext.SpanID() == got.SpanID() {
					span = s
				}
			}
			if span.Name != "process dev.kntrace.test" || span.SpanKind != trace.SpanKindConsumer {
				t.Fatalf("consumer span = %q kind %v", span.Name, span.SpanKind)
			}
			wantParent := producer.SpanContext().SpanID()
			if tt.viaBroker {
				select {
				case b := <-brokerSpans:
					wantParent = b.SpanID()
				case <-time.After(10 * time.Second):
					t.Fatal("timed out after 10s waiting for the broker span")
				}
			}
			if span.Parent.SpanID() != wantParent || span.SpanContext.TraceID() != producer.SpanContext().TraceID() {
				t.Fatalf("consumer parent = %s in trace %s, want %s in %s", span.Parent.SpanID(), span.SpanContext.TraceID(),
					wantParent, producer.SpanContext().TraceID())
			}
			var links []trace.SpanID
			for _, l := range span.Links {
				links = append(links, l.SpanContext.SpanID())
			}
			var wantLinks []trace.SpanID
			if tt.wantLinked {
				wantLinks = []trace.SpanID{producer.SpanContext().SpanID()}
			}
			if diff := cmp.Diff(wantLinks, links); diff != "" {
				t.Fatalf("links (-want +got):\n%s", diff)
			}
			attrs := map[attribute.Key]string{}
			for _, kv := range span.Attributes {
				attrs[kv.Key] = kv.Value.Emit()
			}
			for k, v := range map[attribute.Key]string{
				"cloudevents.event_id":     "evt-1",
				"cloudevents.event_source": "/kntrace/test",
				"cloudevents.event_type":   "dev.kntrace.test",
				"messaging.operation.type": "process",
			} {
				if attrs[k] != v {
					t.Errorf("attribute %s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
				}
			}
		})
	}
}

func TestStartConsumerSpanExtensionOnly(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	e := newEvent(t)
	e.SetExtension("traceparent", "00-"+tid128+"-"+sid+"-01")
	_, span := propagation.New().StartConsumerSpan(context.Background(), tp.Tracer("c"), e, http.Header{})
	span.End()
	s := exp.GetSpans()[0]
	if s.Parent.SpanID().String() != sid || len(s.Links) != 0 {
		t.Fatalf("with no header trace the extension must be the parent: parent %s, links %v", s.Parent.SpanID(), s.Links)
	}
}
