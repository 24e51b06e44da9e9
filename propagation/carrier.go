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
	// the trace is also sampled.
	flagDebug flags = 1 << iota
	// flagDeferred: B3 without a sampling state; the receiver decides, and
	// B3 injection leaves the state out as the contrib propagator does.
	flagDeferred
)

type stateKey struct{}

// extracted is what Extract records on the context besides the span context
// when it is more than flags: a tracestate list the span context's
// TraceState cannot hold.
type extracted struct {
	fl flags
	ts *w3cState
}

// withState records what an extraction found beside the span context. The
// common case (flags only) stores the flags themselves; it allocates only
// when there is something to record or when it must clear what an outer
// extraction left on ctx.
func withState(ctx context.Context, fl flags, ts *w3cState) context.Context {
	if ts == nil {
		if fl == 0 && ctx.Value(stateKey{}) == nil {
			return ctx
		}
		return context.WithValue(ctx, stateKey{}, fl)
	}
	return context.WithValue(ctx, stateKey{}, &extracted{fl: fl, ts: ts})
}

func stateFrom(ctx context.Context) (flags, *w3cState) {
	switch v := ctx.Value(stateKey{}).(type) {
	case flags:
		return v, nil
	case *extracted:
		return v.fl, v.ts
	}
	return 0, nil
}

func flagsFrom(ctx context.Context) flags {
	fl, _ := stateFrom(ctx)
	return fl
}

// IsDebug reports whether the span context extracted into ctx was marked
// debug (B3 "d" or X-B3-Flags: 1, Jaeger flag 0x2). Debug contexts are
// always sampled, and Inject writes debug in B3 and Jaeger.
func IsDebug(ctx context.Context) bool { return flagsFrom(ctx)&flagDebug != 0 }

// IsDeferred reports whether the span context extracted into ctx came from
// B3 headers without a sampling decision.
func IsDeferred(ctx context.Context) bool { return flagsFrom(ctx)&flagDeferred != 0 }
