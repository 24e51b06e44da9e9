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

package coldstart

import (
	"context"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

type middlewareConfig struct {
	tp       trace.TracerProvider
	attrs    []attribute.KeyValue
	spanName string
}

// MiddlewareOption configures the cold-start middleware.
type MiddlewareOption interface{ applyMiddleware(*middlewareConfig) }

type middlewareOption func(*middlewareConfig)

func (f middlewareOption) applyMiddleware(c *middlewareConfig) { f(c) }

// WithTracerProvider sets the provider of the cold-start spans (default: the
// global one).
func WithTracerProvider(tp trace.TracerProvider) MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) { c.tp = tp })
}

// WithAttributes sets the attributes of the cold-start span (default:
// KnativeAttributes(os.Getenv)).
func WithAttributes(kvs ...attribute.KeyValue) MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) { c.attrs = kvs })
}

// WithServerSpanName names the server span the middleware starts when the
// request carries no span of its own (default "http.server").
func WithServerSpanName(name string) MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) { c.spanName = name })
}

// Middleware marks the first request this process serves as its cold start:
// it sets faas.coldstart=true on the request's span (false on every other
// request) and records a cold-start child with the phases process start →
// app ready → first request (child spans and events), named after the
// timeline's Source. Put it inside the
// handler that starts the request's server span (otelhttp); without one it
// starts a server span itself.
func (t *Timeline) Middleware(next http.Handler, opts ...MiddlewareOption) http.Handler {
	cfg := middlewareConfig{spanName: "http.server"}
	for _, o := range opts {
		o.applyMiddleware(&cfg)
	}
	if cfg.attrs == nil {
		cfg.attrs = KnativeAttributes(os.Getenv)
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	tracer := cfg.tp.Tracer(instrumentationName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		ctx := r.Context()
		span := trace.SpanFromContext(ctx)
		if !span.SpanContext().IsValid() {
			var own trace.Span
			ctx, own = tracer.Start(ctx, cfg.spanName, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(now))
			defer own.End()
			span = own
			r = r.WithContext(ctx)
		}
		cold := t.ClaimFirstRequest(now)
		span.SetAttributes(semconv.FaaSColdstart(cold))
		if cold {
			t.RecordColdStart(ctx, tracer, now, cfg.attrs...)
		}
		next.ServeHTTP(w, r)
	})
}

// RecordColdStart records the timeline's cold-start spans (named after its
// Source) as children of ctx's span, ending at firstRequest. The
// queue-proxy uses it with its own timeline.
func (t *Timeline) RecordColdStart(ctx context.Context, tracer trace.Tracer, firstRequest time.Time, attrs ...attribute.KeyValue) {
	start := t.Start()
	ready, haveReady := t.Ready()
	if !haveReady || ready.After(firstRequest) {
		ready = firstRequest
	}
	all := make([]attribute.KeyValue, 0, len(attrs)+5)
	all = append(all, semconv.FaaSColdstart(true), attribute.String(AttrSource, string(t.source)))
	all = append(all, attrs...)
	all = append(all,
		attribute.Int64(AttrInitMs, ready.Sub(start).Milliseconds()),
		attribute.Int64(AttrWaitMs, firstRequest.Sub(ready).Milliseconds()),
		attribute.Bool(AttrReadyKnown, haveReady))
	cctx, cs := tracer.Start(ctx, t.source.SpanName(), trace.WithTimestamp(start), trace.WithAttributes(all...))
	cs.AddEvent(EventProcessStart, trace.WithTimestamp(start))
	if haveReady {
		cs.AddEvent(EventAppReady, trace.WithTimestamp(ready))
	}
	cs.AddEvent(EventFirstRequest, trace.WithTimestamp(firstRequest))
	_, initSpan := tracer.Start(cctx, t.source.InitSpanName(), trace.WithTimestamp(start))
	initSpan.End(trace.WithTimestamp(ready))
	_, waitSpan := tracer.Start(cctx, t.source.WaitSpanName(), trace.WithTimestamp(ready))
	waitSpan.End(trace.WithTimestamp(firstRequest))
	cs.End(trace.WithTimestamp(firstRequest))
}
