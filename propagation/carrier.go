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

	"go.opentelemetry.io/otel/propagation"
)

// headerKey is a carrier key in the lower case TextMapCarriers use and in
// the canonical form http.Header stores, so that reads and writes through a
// propagation.HeaderCarrier go straight to the map without canonicalising
// (and allocating) the key on every request.
type headerKey struct {
	lower, canon string
}

var (
	hTraceparent   = headerKey{"traceparent", "Traceparent"}
	hTracestate    = headerKey{"tracestate", "Tracestate"}
	hBaggage       = headerKey{"baggage", "Baggage"}
	hB3            = headerKey{"b3", "B3"}
	hB3TraceID     = headerKey{"x-b3-traceid", "X-B3-Traceid"}
	hB3SpanID      = headerKey{"x-b3-spanid", "X-B3-Spanid"}
	hB3ParentID    = headerKey{"x-b3-parentspanid", "X-B3-Parentspanid"}
	hB3Sampled     = headerKey{"x-b3-sampled", "X-B3-Sampled"}
	hB3Flags       = headerKey{"x-b3-flags", "X-B3-Flags"}
	hUberTraceID   = headerKey{"uber-trace-id", "Uber-Trace-Id"}
	hCETraceparent = headerKey{"ce-traceparent", "Ce-Traceparent"}
	hCETracestate  = headerKey{"ce-tracestate", "Ce-Tracestate"}
	hJaegerDebugID = headerKey{"jaeger-debug-id", "Jaeger-Debug-Id"}
	hJaegerBaggage = headerKey{"jaeger-baggage", "Jaeger-Baggage"}
)

// uberctxPrefix prefixes Jaeger baggage keys.
const uberctxPrefix = "uberctx-"

type reader struct {
	h      propagation.HeaderCarrier
	c      propagation.TextMapCarrier
	header bool
}

func newReader(c propagation.TextMapCarrier) reader {
	if h, ok := c.(propagation.HeaderCarrier); ok {
		return reader{h: h, header: true}
	}
	return reader{c: c}
}

// get returns the first value of k, as HeaderCarrier.Get would.
func (r reader) get(k headerKey) string {
	if r.header {
		if v := r.h[k.canon]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	return r.c.Get(k.lower)
}

// only returns the value of k and whether the carrier holds exactly one:
// a header sent twice is not one value.
func (r reader) only(k headerKey) (string, bool) {
	if r.header {
		if v := r.h[k.canon]; len(v) == 1 {
			return v[0], true
		}
		return "", false
	}
	if vg, ok := r.c.(propagation.ValuesGetter); ok {
		if v := vg.Values(k.lower); len(v) == 1 {
			return v[0], true
		}
		return "", false
	}
	v := r.c.Get(k.lower)
	return v, v != ""
}

// values returns every value of k when the carrier can hold several.
func (r reader) values(k headerKey) []string {
	if r.header {
		return r.h[k.canon]
	}
	if vg, ok := r.c.(propagation.ValuesGetter); ok {
		return vg.Values(k.lower)
	}
	if v := r.c.Get(k.lower); v != "" {
		return []string{v}
	}
	return nil
}

type writer struct {
	h      propagation.HeaderCarrier
	c      propagation.TextMapCarrier
	header bool
}

func newWriter(c propagation.TextMapCarrier) writer {
	if h, ok := c.(propagation.HeaderCarrier); ok {
		return writer{h: h, header: true}
	}
	return writer{c: c}
}

// set replaces k, as HeaderCarrier.Set would.
func (w writer) set(k headerKey, v string) {
	if w.header {
		w.h[k.canon] = []string{v}
		return
	}
	w.c.Set(k.lower, v)
}

// flags carries the B3 and Jaeger sampling states a span context cannot.
type flags uint8

const (
	// flagDebug: B3 "d" or X-B3-Flags: 1, or Jaeger flags with the debug bit;
	// the trace is also sampled. Injection writes debug only for a sampled
	// span context.
	flagDebug flags = 1 << iota
	// flagDeferred: B3 without a sampling state; the receiver decides, and
	// B3 injection leaves the state out as the contrib propagator does.
	flagDeferred
	// flagOnlyDeny, flagOnlyAccept and flagOnlyDebug: a sampling decision
	// that came without trace IDs (see SamplingOnly).
	flagOnlyDeny
	flagOnlyAccept
	flagOnlyDebug
)

type stateKey struct{}

// extracted is what Extract records on the context besides the span context
// when it is more than flags: a tracestate list the span context's
// TraceState cannot hold, or a jaeger-debug-id.
type extracted struct {
	fl      flags
	ts      *w3cState
	debugID string
}

// withState records what an extraction found beside the span context. The
// common case (flags only) stores the flags themselves; it allocates only
// when there is something to record or when it must clear what an outer
// extraction left on ctx.
func withState(ctx context.Context, fl flags, ts *w3cState, debugID string) context.Context {
	if ts == nil && debugID == "" {
		if fl == 0 && ctx.Value(stateKey{}) == nil {
			return ctx
		}
		return context.WithValue(ctx, stateKey{}, fl)
	}
	return context.WithValue(ctx, stateKey{}, &extracted{fl: fl, ts: ts, debugID: debugID})
}

func stateFrom(ctx context.Context) (flags, *w3cState, string) {
	switch v := ctx.Value(stateKey{}).(type) {
	case flags:
		return v, nil, ""
	case *extracted:
		return v.fl, v.ts, v.debugID
	}
	return 0, nil, ""
}

func flagsFrom(ctx context.Context) flags {
	fl, _, _ := stateFrom(ctx)
	return fl
}

// IsDebug reports whether the span context extracted into ctx was marked
// debug (B3 "d" or X-B3-Flags: 1, Jaeger flag 0x2), or whether the request
// asked for debug without trace IDs (b3: d, a lone X-B3-Flags: 1, a lone
// jaeger-debug-id). Inject writes debug in B3 and Jaeger for a sampled span
// context under ctx.
func IsDebug(ctx context.Context) bool { return flagsFrom(ctx)&flagDebug != 0 }

// IsDeferred reports whether the span context extracted into ctx came from
// B3 headers without a sampling decision.
func IsDeferred(ctx context.Context) bool { return flagsFrom(ctx)&flagDeferred != 0 }

// Decision is a sampling decision a request carried without trace IDs.
type Decision uint8

// The decisions SamplingOnly reports.
const (
	// NoDecision: the request carried trace IDs, or nothing at all.
	NoDecision Decision = iota
	// Deny: b3: 0, or X-B3-Sampled: 0 (or false) without X-B3-TraceId and
	// X-B3-SpanId. Extract starts a new trace that is not sampled.
	Deny
	// Accept: b3: 1, or X-B3-Sampled: 1 (or true) alone. Extract records it
	// and nothing else; Sampler samples the new root span.
	Accept
	// Debug: b3: d, a lone X-B3-Flags: 1, or a lone jaeger-debug-id.
	// Extract records it (IsDebug reports true); Sampler samples the new
	// root span.
	Debug
)

// String returns "deny", "accept", "debug" or "none".
func (d Decision) String() string {
	switch d {
	case Deny:
		return "deny"
	case Accept:
		return "accept"
	case Debug:
		return "debug"
	}
	return "none"
}

// SamplingOnly returns the sampling decision the request extracted into ctx
// carried without trace IDs, or NoDecision. Extract looks for one only when
// no configured format yields a span context, in the extraction order.
func SamplingOnly(ctx context.Context) Decision {
	switch fl := flagsFrom(ctx); {
	case fl&flagOnlyDeny != 0:
		return Deny
	case fl&flagOnlyDebug != 0:
		return Debug
	case fl&flagOnlyAccept != 0:
		return Accept
	}
	return NoDecision
}

// DebugID returns the value of the jaeger-debug-id header the request
// extracted into ctx carried without an uber-trace-id (URL-decoded, as the
// Jaeger clients read it), or "". Sampler records it on the new root span
// as the jaeger-debug-id attribute, as the Jaeger clients tag that span.
func DebugID(ctx context.Context) string {
	_, _, id := stateFrom(ctx)
	return id
}
