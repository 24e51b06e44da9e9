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

package queueproxy

import (
	"context"
	"sync"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Names of the spans Knative's queue-proxy starts (knative.dev/serving/pkg/
// queue), which kntrace re-parents.
const (
	// KnativeScope is the instrumentation scope of Knative's queue spans.
	KnativeScope = "knative.dev/serving/pkg/queue"
	// SpanProxy covers the request inside the queue-proxy.
	SpanProxy = "kn.queueproxy.proxy"
	// SpanWait covers the wait for a slot of the container concurrency;
	// upstream ends it before the call to the app, which it still parents.
	SpanWait = "kn.queueproxy.wait"
)

// httpMethods are the methods whose span names are computed once: otelhttp
// names a server span after its method, or "HTTP" for any other.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// requestSpans are one request's server span and kn.queueproxy.proxy span.
type requestSpans struct {
	server trace.Span
	proxy  trace.Span
}

// SpanProcessor names the queue-proxy's server spans after what they serve
// and remembers, while each request runs, its server and proxy spans so the
// proxy handler can find them from the span in its context. Register it on
// the tracer provider Knative builds (Option does).
//
// It runs twice per sampled request (the proxy span's start and end), so
// the registry is a plain map of values under a mutex: no allocation per
// request once the map has grown to the requests in flight.
type SpanProcessor struct {
	revision string
	names    map[string]string // otelhttp's name (the method) → ours

	mu   sync.Mutex
	live map[trace.SpanID]requestSpans // by the proxy span's ID
}

var _ sdktrace.SpanProcessor = (*SpanProcessor)(nil)

// NewSpanProcessor names server spans "<METHOD> <revision>" ("<METHOD>"
// alone when revision is empty).
func NewSpanProcessor(revision string) *SpanProcessor {
	p := &SpanProcessor{revision: revision, names: map[string]string{}, live: map[trace.SpanID]requestSpans{}}
	for _, m := range httpMethods {
		p.names[m] = p.serverName(m)
	}
	p.names["HTTP"] = p.serverName("HTTP")
	return p
}

func (p *SpanProcessor) serverName(method string) string {
	if p.revision == "" {
		return method
	}
	return method + " " + p.revision
}

// OnStart renames server spans and records proxy spans.
func (p *SpanProcessor) OnStart(parent context.Context, s sdktrace.ReadWriteSpan) {
	switch s.SpanKind() {
	case trace.SpanKindServer:
		if s.InstrumentationScope().Name != otelhttp.ScopeName {
			return
		}
		name := s.Name()
		if n, ok := p.names[name]; ok {
			s.SetName(n)
		} else {
			s.SetName(p.serverName(name))
		}
	case trace.SpanKindInternal:
		if s.Name() != SpanProxy || s.InstrumentationScope().Name != KnativeScope {
			return
		}
		rs := requestSpans{server: trace.SpanFromContext(parent), proxy: s}
		p.mu.Lock()
		p.live[s.SpanContext().SpanID()] = rs
		p.mu.Unlock()
	}
}

// OnEnd forgets a finished proxy span.
func (p *SpanProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanKind() == trace.SpanKindInternal && s.Name() == SpanProxy {
		p.mu.Lock()
		delete(p.live, s.SpanContext().SpanID())
		p.mu.Unlock()
	}
}

// Shutdown does nothing.
func (p *SpanProcessor) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (p *SpanProcessor) ForceFlush(context.Context) error { return nil }

// spansOf finds the request's proxy and server spans from the span in ctx:
// upstream's ended kn.queueproxy.wait span (its parent is the proxy span;
// inProxy is false) or the proxy span itself (no container concurrency, no
// wait; inProxy is true).
func (p *SpanProcessor) spansOf(ctx context.Context) (rs requestSpans, inProxy, ok bool) {
	ro, isSDK := trace.SpanFromContext(ctx).(sdktrace.ReadOnlySpan)
	if !isSDK {
		return requestSpans{}, false, false
	}
	var id trace.SpanID
	switch ro.Name() {
	case SpanWait:
		id = ro.Parent().SpanID()
	case SpanProxy:
		id, inProxy = ro.SpanContext().SpanID(), true
	default:
		return requestSpans{}, false, false
	}
	p.mu.Lock()
	rs, ok = p.live[id]
	p.mu.Unlock()
	return rs, inProxy, ok
}
