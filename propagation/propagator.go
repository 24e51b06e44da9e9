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
	"go.opentelemetry.io/otel/trace"
)

// Propagator is a propagation.TextMapPropagator that reads every configured
// format in precedence order, keeps the first valid span context and parses
// no further, and writes each configured format. Create it with New, Parse
// or FromEnv; it is safe for concurrent use.
type Propagator struct {
	extract []Format // trace-context formats only, in precedence order
	inject  []Format
	fields  []string

	extractBaggage bool // W3C baggage header
	extractUberctx bool // uberctx-* when Jaeger wins
}

var _ propagation.TextMapPropagator = (*Propagator)(nil)

type config struct {
	inject     []Format
	extract    []Format
	setInject  bool
	setExtract bool
}

// Option configures a Propagator.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithFormats sets the formats Inject writes (duplicates and CloudEvents,
// which is read only, are ignored), and, unless WithExtractOrder is also
// given, the formats Extract reads, in DefaultExtractOrder's precedence. As
// the OpenTelemetry B3 specification requires, either B3 format extracts
// both B3 encodings, the single header first. WithFormats() with no
// formats, like OTEL_PROPAGATORS=none, propagates nothing.
func WithFormats(fs ...Format) Option {
	fs = append([]Format(nil), fs...)
	return optionFunc(func(c *config) {
		c.inject, c.setInject = fs, true
	})
}

// WithExtractOrder sets exactly which formats Extract reads and in which
// precedence: the first format that yields a valid span context wins and
// later ones are not parsed. Baggage may appear anywhere in the list: the
// baggage header is read whatever context wins. B3 here means the single
// header only and B3Multi the multiple headers only.
func WithExtractOrder(fs ...Format) Option {
	fs = append([]Format(nil), fs...)
	return optionFunc(func(c *config) {
		c.extract, c.setExtract = fs, true
	})
}

// New returns a Propagator. Without options it is the bridge kntrace's
// activator and queue-proxy use: it extracts every format in
// DefaultExtractOrder and injects DefaultFormats (W3C tracecontext and
// baggage, all upstream Knative reads).
func New(opts ...Option) *Propagator {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if !c.setInject {
		c.inject = DefaultFormats()
	}
	if !c.setExtract {
		if c.setInject {
			c.extract = extractFor(c.inject)
		} else {
			c.extract = DefaultExtractOrder()
		}
	}

	p := &Propagator{}
	var seen [maxFormat + 1]bool
	for _, f := range c.extract {
		if f == 0 || f > maxFormat || seen[f] {
			continue
		}
		seen[f] = true
		switch f {
		case Baggage:
			p.extractBaggage = true
		case Jaeger:
			p.extractUberctx = true
			p.extract = append(p.extract, f)
		default:
			p.extract = append(p.extract, f)
		}
	}
	seen = [maxFormat + 1]bool{}
	for _, f := range c.inject {
		if f == 0 || f >= CloudEvents || seen[f] {
			continue
		}
		seen[f] = true
		p.inject = append(p.inject, f)
		p.fields = append(p.fields, fieldsOf(f)...)
	}
	return p
}

// extractFor derives the extraction list from an injection list.
func extractFor(fs []Format) []Format {
	var want [maxFormat + 1]bool
	for _, f := range fs {
		if f > 0 && f <= maxFormat {
			want[f] = true
		}
	}
	if want[B3] || want[B3Multi] {
		want[B3], want[B3Multi] = true, true
	}
	var out []Format
	for _, f := range DefaultExtractOrder() {
		if want[f] {
			out = append(out, f)
		}
	}
	return out
}

func fieldsOf(f Format) []string {
	switch f {
	case TraceContext:
		return []string{hTraceparent.lower, hTracestate.lower}
	case Baggage:
		return []string{hBaggage.lower}
	case B3:
		return []string{hB3.lower}
	case B3Multi:
		return []string{hB3TraceID.lower, hB3SpanID.lower, hB3Sampled.lower, hB3Flags.lower}
	case Jaeger:
		return []string{hUberTraceID.lower}
	}
	return nil
}

// InjectFormats returns the formats Inject writes, in order.
func (p *Propagator) InjectFormats() []Format { return append([]Format(nil), p.inject...) }

// ExtractOrder returns the formats Extract reads, in precedence order.
func (p *Propagator) ExtractOrder() []Format {
	out := append([]Format(nil), p.extract...)
	if p.extractBaggage {
		out = append(out, Baggage)
	}
	return out
}

// Fields returns the keys Inject may set (uberctx-* baggage keys aside).
func (p *Propagator) Fields() []string { return append([]string(nil), p.fields...) }

// Extract reads the configured formats from carrier in precedence order and
// returns ctx with the first valid remote span context (and W3C baggage, and
// Jaeger baggage when the Jaeger header won or no format did). When no
// format yields a span context, a sampling decision sent without trace IDs
// is recorded (SamplingOnly); a deny starts a new trace that is not
// sampled. A malformed header is skipped as a whole; nothing is ever
// returned as an error.
func (p *Propagator) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	r := newReader(carrier)
	winner := Format(0)
	for _, f := range p.extract {
		var (
			sc trace.SpanContext
			fl flags
			st *w3cState
			ok bool
		)
		switch f {
		case TraceContext:
			sc, st, ok = extractW3C(r, hTraceparent, hTracestate)
		case B3:
			sc, fl, ok = extractB3Single(r.get(hB3))
		case B3Multi:
			sc, fl, ok = extractB3Multi(r)
		case Jaeger:
			sc, fl, ok = extractJaeger(r.get(hUberTraceID))
		case CloudEvents:
			sc, st, ok = extractW3C(r, hCETraceparent, hCETracestate)
		}
		if ok {
			ctx = withState(ctx, fl, st, "")
			ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
			winner = f
			break
		}
	}
	if winner == 0 {
		ctx = p.extractSamplingOnly(ctx, r)
	}
	if p.extractBaggage {
		ctx = extractW3CBaggage(ctx, r)
	}
	if p.extractUberctx && (winner == Jaeger || winner == 0) {
		ctx = extractJaegerBaggage(ctx, r)
	}
	return ctx
}

// extractSamplingOnly looks, in extraction order, for a sampling decision
// sent without trace IDs: b3: 0|1|d; X-B3-Sampled or X-B3-Flags without
// X-B3-TraceId and X-B3-SpanId; jaeger-debug-id without uber-trace-id.
func (p *Propagator) extractSamplingOnly(ctx context.Context, r reader) context.Context {
	for _, f := range p.extract {
		var fl flags
		switch f {
		case B3:
			fl = b3SingleDecision(r.get(hB3))
		case B3Multi:
			fl = b3MultiDecision(r)
		case Jaeger:
			if id := r.get(hJaegerDebugID); id != "" {
				return withState(ctx, flagOnlyDebug|flagDebug, nil, jaegerDecode(id))
			}
		}
		switch {
		case fl == 0:
		case fl&flagOnlyDeny != 0:
			return trace.ContextWithRemoteSpanContext(withState(ctx, fl, nil, ""), deniedSpanContext())
		default:
			return withState(ctx, fl, nil, "")
		}
	}
	return ctx
}

// Inject writes the span context of ctx (and its baggage) in every
// configured format. Nothing is written for an invalid span context.
func (p *Propagator) Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	w := newWriter(carrier)
	sc := trace.SpanContextFromContext(ctx)
	fl, st, _ := stateFrom(ctx)
	if fl&flagDebug != 0 && !sc.IsSampled() {
		fl &^= flagDebug // a debug request the local sampler did not follow
	}
	for _, f := range p.inject {
		switch f {
		case TraceContext:
			injectW3C(sc, st, w, hTraceparent, hTracestate)
		case Baggage:
			injectW3CBaggage(ctx, w)
		case B3:
			injectB3Single(sc, fl, w)
		case B3Multi:
			injectB3Multi(sc, fl, w)
		case Jaeger:
			injectJaeger(sc, fl, w)
			injectUberctx(ctx, w)
		}
	}
}
