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
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/propagation"
)

// instrumentationName names the tracer of the spans this package records.
const instrumentationName = "github.com/kntrace/kntrace/activatorhooks"

// Attributes this package sets on the throttler_try span.
const (
	// AttrReadyBackends is the number of ready backends (addresses of the
	// revision's private Endpoints) when the request arrived; absent when
	// unknown.
	AttrReadyBackends = "kntrace.activator.backends.ready"
	// AttrZeroBackends is true when the revision had no ready backend when
	// the request arrived; absent when unknown.
	AttrZeroBackends = "kntrace.activator.backends.zero"
	// AttrWaitMs is how long the request waited for capacity, in
	// milliseconds.
	AttrWaitMs = "kntrace.activator.wait_ms"
)

// ReadyBackendsFunc reports how many ready backends a revision has; ok is
// false when that is unknown.
type ReadyBackendsFunc func(rev types.NamespacedName) (n int, ok bool)

type config struct {
	tp            trace.TracerProvider
	prop          *propagation.Propagator
	readyBackends ReadyBackendsFunc
	onError       func(error)
	now           func() time.Time
	meterProvider metric.MeterProvider
	onColdStart   func(coldstart.Report)
}

// Option configures Hooks.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets the provider of the phase spans (default: the
// global one). Use the activator's own.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithPropagator sets the propagator (default: propagation.New(), the bridge
// that reads every format and writes W3C tracecontext and baggage). See
// propagation.FromEnv.
func WithPropagator(p *propagation.Propagator) Option {
	return optionFunc(func(c *config) { c.prop = p })
}

// WithReadyBackends sets how the throttler hook learns the ready backends of
// a revision when a request arrives (default: unknown, and the attributes
// are left out). See EndpointsReadyBackends.
func WithReadyBackends(f ReadyBackendsFunc) Option {
	return optionFunc(func(c *config) { c.readyBackends = f })
}

// WithMeterProvider records the cold-start duration histogram
// (kntrace.coldstart.duration) through mp (default: the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithColdStartReports receives a report of every scale from zero a
// request waited for, once the pod answered the episode's first request (its
// leader); give it the activator's podstart reporter, which adds the
// Kubernetes phases. f is called on the request's goroutine and must not
// block.
func WithColdStartReports(f func(coldstart.Report)) Option {
	return optionFunc(func(c *config) { c.onColdStart = f })
}

// WithErrorHandler receives the first malformed cold-start timeline
// (default: otel.Handle). It is called at most once per Hooks; every one is
// counted by MalformedTimelines.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(c *config) { c.onError = f })
}

// Hooks is the activator's tracing middleware. It is safe for concurrent use.
type Hooks struct {
	cfg       config
	tracer    trace.Tracer
	malformed atomic.Uint64
	errOnce   sync.Once
	// stale are the context headers of the formats the propagator does not
	// write; Handler removes them from the request so that the queue-proxy
	// does not see the caller's span next to the activator's.
	stale []string
	// episodes are the revisions' scales from zero, by revision.
	episodes episodes
	// coldStarts is the cold-start duration histogram.
	coldStarts metric.Float64Histogram
}

// New returns Hooks configured by opts.
func New(opts ...Option) *Hooks {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.prop == nil {
		c.prop = propagation.New()
	}
	if c.onError == nil {
		c.onError = otel.Handle
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	h := &Hooks{cfg: c, tracer: c.tp.Tracer(instrumentationName)}
	h.coldStarts = newColdStartHistogram(c.meterProvider, c.onError)
	if injects := c.prop.InjectFormats(); len(injects) > 0 {
		written := map[propagation.Format]bool{}
		for _, f := range injects {
			written[f] = true
		}
		for f, keys := range contextHeaders {
			if !written[f] {
				h.stale = append(h.stale, keys...)
			}
		}
	}
	return h
}

// contextHeaders are the (canonical) headers that carry a span context, by
// format. Baggage, uberctx-* and the CloudEvents extension are not here:
// they do not name a parent span.
var contextHeaders = map[propagation.Format][]string{
	propagation.TraceContext: {"Traceparent", "Tracestate"},
	propagation.B3:           {"B3"},
	propagation.B3Multi:      {"X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-B3-Flags"},
	propagation.Jaeger:       {"Uber-Trace-Id"},
}

// Propagator is the bridge the hooks extract with. Install it as the global
// propagator (otel.SetTextMapPropagator) before building the activator's
// handler, so that the otelhttp transport Knative wraps around Transport
// injects the configured formats.
func (h *Hooks) Propagator() *propagation.Propagator { return h.cfg.prop }

// MalformedTimelines is how many cold-start timelines could not be read.
func (h *Hooks) MalformedTimelines() uint64 { return h.malformed.Load() }

// ServerHandler is otelhttp.NewHandler(h.Handler(next), operation, opts...)
// with the bridge as its propagator: the request span continues the
// caller's trace in whichever format it came. It replaces the otelhttp
// handler ("handle") upstream puts around the context handler.
func (h *Hooks) ServerHandler(next http.Handler, operation string, opts ...otelhttp.Option) http.Handler {
	all := make([]otelhttp.Option, 0, len(opts)+1)
	all = append(all, opts...)
	all = append(all, otelhttp.WithPropagators(h.cfg.prop))
	inner := otelhttp.NewHandler(h.Handler(next), operation, all...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, h.markColdWait(r))
	})
}

// Handler records when a request arrived and which span is its request span
// (the span in its context), for Throttler and Transport. Put it inside the
// handler that starts the request span, after the caller's context was
// extracted. It removes from the request the span-context headers of the
// formats the propagator does not write (a B3 header when only W3C is
// written, say): forwarded, they would name the caller's span instead of
// the activator's to the queue-proxy, as upstream's activator does.
//
// A request that waits for a cold start (ServerHandler marked it) joins its
// revision's scale from zero: the first such request leads it and gets the
// phase spans; later ones are linked to the leader. When the caller sent an
// unsampled context, the cold start is recorded in a new trace (root span
// coldstart.SpanUnsampledWait) linked to the caller's. Any other request
// that is not recorded is otherwise untouched.
func (h *Hooks) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range h.stale {
			delete(r.Header, k)
		}
		ctx := r.Context()
		span := trace.SpanFromContext(ctx)
		cw := coldWaitFrom(ctx)
		if !span.IsRecording() {
			if cw == nil || !span.SpanContext().IsValid() {
				next.ServeHTTP(w, r)
				return
			}
			// The caller sent an unsampled context: its decision holds for
			// its spans, and the cold start is recorded in a trace of its
			// own, linked to the caller's (Sampler keeps that new trace).
			var own trace.Span
			_, own = h.tracer.Start(trace.ContextWithSpanContext(ctx, trace.SpanContext{}), coldstart.SpanUnsampledWait,
				trace.WithLinks(trace.Link{SpanContext: span.SpanContext()}))
			defer own.End()
			span = own
		}
		st := &request{arrival: h.cfg.now(), span: span}
		if cw != nil {
			ep, leader := h.episodes.join(cw.rev, span.SpanContext(), st.arrival)
			st.episode = ep
			span.SetAttributes(semconv.FaaSColdstart(true))
			if leader {
				defer ep.ended.Store(true)
			} else {
				span.AddLink(trace.Link{SpanContext: ep.leader, Attributes: []attribute.KeyValue{attribute.String(coldstart.AttrRole, coldstart.RoleFollower)}})
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, requestKey{}, st)))
	})
}

// request is what the hooks learn about one request. Handler creates it;
// Throttler and Transport then run on one goroutine (the one that proxies
// the request), so it needs no lock.
type request struct {
	arrival time.Time
	span    trace.Span
	granted time.Time
	attrs   []attribute.KeyValue
	// episode is the scale from zero the request waited for (nil: it
	// arrived with a ready backend, or the backends are unknown).
	episode *episode
}

type requestKey struct{}

func requestFrom(ctx context.Context) *request {
	st, _ := ctx.Value(requestKey{}).(*request)
	return st
}
