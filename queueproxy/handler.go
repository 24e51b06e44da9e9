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
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	netheader "knative.dev/networking/pkg/http/header"

	"github.com/kntrace/kntrace/coldstart"
)

// InstrumentationName is the scope of the spans kntrace's queue-proxy
// records itself (the cold-start spans).
const InstrumentationName = "github.com/kntrace/kntrace/queueproxy"

// Handler wraps the queue-proxy's reverse proxy to the app (sharedmain's
// Defaults.ProxyHandler, the innermost handler of Knative's chain). It
// parents the call to the app under kn.queueproxy.proxy rather than the
// ended kn.queueproxy.wait span, and marks the first request the pod
// serves as its cold start (see the package documentation).
type Handler struct {
	next     http.Handler
	spans    *SpanProcessor // nil: no SDK tracer provider to hook
	timeline *coldstart.Timeline
	tracer   trace.Tracer
	attrs    []attribute.KeyValue
	now      func() time.Time
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the handler; spans may be nil.
func NewHandler(next http.Handler, spans *SpanProcessor, timeline *coldstart.Timeline, tp trace.TracerProvider, attrs []attribute.KeyValue) *Handler {
	return &Handler{next: next, spans: spans, timeline: timeline, tracer: tp.Tracer(InstrumentationName), attrs: attrs, now: time.Now}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var (
		rs    requestSpans
		found bool
	)
	if h.spans != nil {
		var inProxy bool
		if rs, inProxy, found = h.spans.spansOf(ctx); found && !inProxy {
			ctx = trace.ContextWithSpan(ctx, rs.proxy)
			r = r.WithContext(ctx)
		}
	}
	if _, claimed := h.timeline.FirstRequest(); !claimed && !netheader.IsProbe(r) {
		now := h.now()
		if h.timeline.ClaimFirstRequest(now) {
			w.Header().Set(coldstart.Header, h.timeline.HeaderValue())
			parent := ctx
			if found && rs.server.SpanContext().IsValid() {
				parent = trace.ContextWithSpan(ctx, rs.server)
			}
			trace.SpanFromContext(parent).SetAttributes(semconv.FaaSColdstart(true))
			if trace.SpanFromContext(parent).SpanContext().IsSampled() {
				h.timeline.RecordColdStart(parent, h.tracer, now, h.attrs...)
			}
		}
	}
	h.next.ServeHTTP(w, r)
}
