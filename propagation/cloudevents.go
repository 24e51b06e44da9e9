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

package propagation

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// The CloudEvents distributed-tracing extension attributes.
const (
	TraceParentExtension = "traceparent"
	TraceStateExtension  = "tracestate"
)

// EventCarrier is a propagation.TextMapCarrier over the extension attributes
// of a CloudEvent: propagation.TraceContext{}.Inject(ctx, EventCarrier{e})
// writes the distributed-tracing extension. Keys are matched in lower case,
// as CloudEvents attribute names are; Set ignores names CloudEvents refuses.
type EventCarrier struct {
	Event *event.Event
}

var _ propagation.TextMapCarrier = EventCarrier{}

// Get returns the extension attribute key as a string, or "".
func (c EventCarrier) Get(key string) string {
	if c.Event == nil || c.Event.Context == nil {
		return ""
	}
	v, ok := c.Event.Extensions()[strings.ToLower(key)]
	if !ok {
		return ""
	}
	s, err := types.ToString(v)
	if err != nil {
		return ""
	}
	return s
}

// Set sets the extension attribute key; an empty value removes it.
func (c EventCarrier) Set(key, value string) {
	key = strings.ToLower(key)
	if c.Event == nil || c.Event.Context == nil || !event.IsExtensionNameValid(key) {
		return
	}
	var v any
	if value != "" {
		v = value
	}
	c.Event.SetExtension(key, v)
}

// Keys returns the names of the event's extension attributes, sorted.
func (c EventCarrier) Keys() []string {
	if c.Event == nil || c.Event.Context == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(c.Event.Extensions()))
}

// InjectEvent writes the span context of ctx into e's traceparent and
// tracestate extension attributes, replacing any there. Producers that
// forward an event they did not create should leave the extension alone
// (see InjectProducer).
func InjectEvent(ctx context.Context, e *event.Event) {
	c := EventCarrier{e}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	c.Set(TraceStateExtension, "")
	_, st, _ := stateFrom(ctx)
	injectW3C(sc, st, newWriter(c), headerKey{lower: TraceParentExtension}, headerKey{lower: TraceStateExtension})
}

// EventSpanContext returns the remote span context e's distributed-tracing
// extension carries (invalid when it carries none or a malformed one).
func EventSpanContext(e event.Event) trace.SpanContext {
	c := EventCarrier{&e}
	sc, _, _ := extractW3C(newReader(c), headerKey{lower: TraceParentExtension}, headerKey{lower: TraceStateExtension})
	return sc
}

// ExtractEvent returns ctx carrying the remote span context from e's
// distributed-tracing extension, or ctx unchanged when it has none.
func ExtractEvent(ctx context.Context, e event.Event) context.Context {
	c := EventCarrier{&e}
	sc, st, ok := extractW3C(newReader(c), headerKey{lower: TraceParentExtension}, headerKey{lower: TraceStateExtension})
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(withState(ctx, 0, st, ""), sc)
}

// InjectProducer prepares an event about to be sent over HTTP: it writes the
// span context of ctx into e's distributed-tracing extension unless e
// already carries a valid one (the extension names the trace that started
// the event and is never overwritten on the way), and writes p's formats
// into h for the next hop.
func (p *Propagator) InjectProducer(ctx context.Context, e *event.Event, h http.Header) {
	if !EventSpanContext(*e).IsValid() {
		InjectEvent(ctx, e)
	}
	p.Inject(ctx, propagation.HeaderCarrier(h))
}

// ProducerContext is InjectProducer for the sdk-go HTTP client: it returns
// ctx carrying the trace headers (added to any set with
// cehttp.WithCustomHeader before) for client.Send or client.Request.
func (p *Propagator) ProducerContext(ctx context.Context, e *event.Event) context.Context {
	h := cehttp.HeaderFrom(ctx).Clone()
	if h == nil {
		h = http.Header{}
	}
	p.InjectProducer(ctx, e, h)
	return cehttp.WithCustomHeader(ctx, h)
}

// StartConsumerSpan starts the span that processes event e received over
// HTTP with headers h (when h is nil, those sdk-go recorded with
// cehttp.WithRequestDataAtContextMiddleware, if any). The span continues
// the trace in the headers, which is what the last hop (a broker, a
// channel) propagated; when e's distributed-tracing extension names a
// different span context (the producer's, per the CloudEvents
// distributed-tracing extension), the span links to it. With no trace in
// the headers the extension's context is the parent. The span is a consumer
// span named "process <type>" with the cloudevents.* and
// messaging.operation.* attributes of the OpenTelemetry semantic
// conventions; opts are applied after these defaults.
func (p *Propagator) StartConsumerSpan(ctx context.Context, tracer trace.Tracer, e event.Event, h http.Header, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if h == nil {
		if rd := cehttp.RequestDataFromContext(ctx); rd != nil {
			h = rd.Header
		}
	}
	if h != nil {
		ctx = p.Extract(ctx, propagation.HeaderCarrier(h))
	}
	parent := trace.SpanContextFromContext(ctx)
	ext := EventSpanContext(e)

	attrs := make([]trace.SpanStartOption, 0, 4+len(opts))
	attrs = append(attrs, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(ConsumerAttributes(e)...))
	switch {
	case !ext.IsValid():
	case !parent.IsValid():
		ctx = trace.ContextWithRemoteSpanContext(ctx, ext)
	case !sameSpan(parent, ext):
		attrs = append(attrs, trace.WithLinks(trace.Link{SpanContext: ext}))
	}
	attrs = append(attrs, opts...)
	return tracer.Start(ctx, "process "+e.Type(), attrs...)
}

func sameSpan(a, b trace.SpanContext) bool {
	return a.TraceID() == b.TraceID() && a.SpanID() == b.SpanID()
}

// ConsumerAttributes returns the semantic-convention attributes of a span
// that processes e: cloudevents.event_id, cloudevents.event_source,
// cloudevents.event_type, cloudevents.event_spec_version,
// cloudevents.event_subject (when set) and messaging.operation.type.
func ConsumerAttributes(e event.Event) []attribute.KeyValue {
	out := []attribute.KeyValue{
		semconv.CloudEventsEventID(e.ID()),
		semconv.CloudEventsEventSource(e.Source()),
		semconv.CloudEventsEventType(e.Type()),
		semconv.CloudEventsEventSpecVersion(e.SpecVersion()),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
	}
	if s := e.Subject(); s != "" {
		out = append(out, semconv.CloudEventsEventSubject(s))
	}
	return out
}
