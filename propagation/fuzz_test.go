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
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

// checkRoundTrip injects what kntrace extracted from kv with the same
// format and extracts it again: the span context (and the debug and
// deferred state) must survive.
func checkRoundTrip(t *testing.T, f propagation.Format, kv map[string]string) {
	t.Helper()
	p := propagation.New(propagation.WithFormats(f))
	ctx := p.Extract(context.Background(), otelprop.MapCarrier(lower(kv)))
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	c := otelprop.MapCarrier{}
	p.Inject(ctx, c)
	ctx2 := p.Extract(context.Background(), c)
	sc2 := trace.SpanContextFromContext(ctx2)
	if sc.TraceID() != sc2.TraceID() || sc.SpanID() != sc2.SpanID() || sc.TraceFlags() != sc2.TraceFlags() ||
		(f == propagation.TraceContext && sc.TraceState().String() != sc2.TraceState().String()) {
		t.Fatalf("%s round trip of %q via %q: got %s, want %s", f, kv, c, dumpSC(sc2), dumpSC(sc))
	}
	if propagation.IsDebug(ctx) != propagation.IsDebug(ctx2) || propagation.IsDeferred(ctx) != propagation.IsDeferred(ctx2) {
		t.Fatalf("%s round trip of %q via %q: debug/deferred %v/%v became %v/%v", f, kv, c,
			propagation.IsDebug(ctx), propagation.IsDeferred(ctx), propagation.IsDebug(ctx2), propagation.IsDeferred(ctx2))
	}
}

func lower(kv map[string]string) map[string]string {
	out := make(map[string]string, len(kv))
	for k, v := range kv {
		out[strings.ToLower(k)] = v
	}
	return out
}

func FuzzW3C(f *testing.F) {
	f.Add("00-"+tid128+"-"+sid+"-01", "congo=t61rcWkgMzE")
	f.Add("00-"+tid128+"-"+sid+"-03", "")
	f.Add("cc-"+tid128+"-"+sid+"-01-xyz", "a=b,c=d")
	f.Add("00-"+tid128+"-"+sid+"-01-", "=")
	f.Add("ff-"+tid128+"-"+sid+"-01", "")
	f.Add("00-"+tid128+"-"+sid+"-01", "foo@=1,bar=2,foo=3, ,1a=x")
	p := peers()[propagation.TraceContext]
	f.Fuzz(func(t *testing.T, tp, ts string) {
		kv := map[string]string{"traceparent": tp, "tracestate": ts}
		if _, err := trace.ParseTraceState(ts); err == nil {
			diffPeer(t, p, kv)
		} else {
			// Where trace.ParseTraceState gives up, kntrace reads the list as
			// the specification allows (see TestDifferentialTraceContext);
			// traceparent still parses as the peer parses it.
			k := trace.SpanContextFromContext(p.kntrace.Extract(context.Background(), otelprop.MapCarrier(kv)))
			o := trace.SpanContextFromContext(p.otel.Extract(context.Background(), otelprop.MapCarrier(kv)))
			if k.TraceID() != o.TraceID() || k.SpanID() != o.SpanID() || k.TraceFlags() != o.TraceFlags() {
				t.Fatalf("traceparent %q: got %s, want %s", tp, dumpSC(k), dumpSC(o))
			}
		}
		checkRoundTrip(t, propagation.TraceContext, kv)
		// The CloudEvents binary-mode headers parse the same way.
		ce := propagation.New(propagation.WithExtractOrder(propagation.CloudEvents))
		a := trace.SpanContextFromContext(ce.Extract(context.Background(), otelprop.MapCarrier{"ce-traceparent": tp, "ce-tracestate": ts}))
		b := trace.SpanContextFromContext(p.kntrace.Extract(context.Background(), otelprop.MapCarrier(kv)))
		if !a.Equal(b) {
			t.Fatalf("ce-traceparent %q: got %s, want %s", tp, dumpSC(a), dumpSC(b))
		}
	})
}

// FuzzTracestate sends tracestate as two header lines: the result must be
// that of the one line RFC 9110 combines them into, hold at most 32
// members, and survive injection and extraction unchanged.
func FuzzTracestate(f *testing.F) {
	f.Add("foo=1,bar=2", "rojo=1,congo=2")
	f.Add("", "foo=1")
	f.Add("foo=1", "foo=2")
	f.Add("foo@=1", "t@"+strings.Repeat("v", 15)+"=1")
	f.Add(strings.Repeat("a=1,", 31), "b=1,c=1")
	f.Add(" \t", "x=y ")
	p := propagation.New(propagation.WithFormats(propagation.TraceContext))
	tp := "00-" + tid128 + "-" + sid + "-01"
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsAny(a+b, "\r\n") {
			return // not a header field line
		}
		two := http.Header{"Traceparent": {tp}, "Tracestate": {a, b}}
		one := http.Header{"Traceparent": {tp}, "Tracestate": {a + "," + b}}
		out2, out1 := http.Header{}, http.Header{}
		ctx := p.Extract(context.Background(), otelprop.HeaderCarrier(two))
		p.Inject(ctx, otelprop.HeaderCarrier(out2))
		p.Inject(p.Extract(context.Background(), otelprop.HeaderCarrier(one)), otelprop.HeaderCarrier(out1))
		got := out2.Get("tracestate")
		if want := out1.Get("tracestate"); got != want {
			t.Fatalf("tracestate %q and %q: two lines give %q, one combined line %q", a, b, got, want)
		}
		if n := len(strings.Split(got, ",")); got != "" && n > 32 {
			t.Fatalf("tracestate %q and %q: %d members written", a, b, n)
		}
		again := http.Header{}
		p.Inject(p.Extract(context.Background(), otelprop.HeaderCarrier(out2)), otelprop.HeaderCarrier(again))
		if again.Get("tracestate") != got {
			t.Fatalf("tracestate %q did not survive a hop: %q", got, again.Get("tracestate"))
		}
	})
}

// b3SingleDifference names the deliberate difference from the contrib B3
// propagator that the b3 value v falls under, or returns "".
func b3SingleDifference(v string) string {
	if v == "0" {
		return "deny without IDs"
	}
	tidLen := 0
	switch {
	case len(v) > 16 && v[16] == '-':
		tidLen = 16
	case len(v) > 32 && v[32] == '-':
		tidLen = 32
	}
	pos := tidLen + 1 + 16
	switch {
	case tidLen == 0:
	case len(v) > pos && v[pos] != '-':
		return "separator after the span ID"
	case len(v) == pos+19 && v[pos+2] != '-':
		return "separator before the parent"
	}
	return ""
}

func FuzzB3Single(f *testing.F) {
	for _, in := range b3SingleInputs {
		f.Add(in.v)
	}
	p := peers()[propagation.B3]
	f.Fuzz(func(t *testing.T, v string) {
		kv := map[string]string{"b3": v}
		if b3SingleDifference(v) == "" {
			diffPeer(t, p, kv)
		}
		checkRoundTrip(t, propagation.B3, kv)
	})
}

// b3MultiDifference names the deliberate difference from the contrib B3
// propagator that the X-B3-* values fall under, or returns "".
func b3MultiDifference(traceID, spanID, sampled, flags, parent string) string {
	if traceID == "" && spanID == "" && flags != "1" && (sampled == "0" || strings.EqualFold(sampled, "false")) {
		return "deny without IDs"
	}
	if parent != "" && len(parent) <= 16 && isHex(parent, true) {
		if _, err := trace.SpanIDFromHex(parent); err != nil {
			return "short, zero or upper-case X-B3-ParentSpanId"
		}
	}
	return ""
}

func isHex(s string, anyCase bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || anyCase && 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

func FuzzB3Multi(f *testing.F) {
	for _, in := range b3MultiInputs {
		f.Add(in.traceID, in.spanID, in.sampled, in.flags, in.parent)
	}
	p := peers()[propagation.B3Multi]
	f.Fuzz(func(t *testing.T, traceID, spanID, sampled, flags, parent string) {
		kv := b3MultiKV(traceID, spanID, sampled, flags, parent)
		if b3MultiDifference(traceID, spanID, sampled, flags, parent) == "" {
			diffPeer(t, p, kv)
		}
		checkRoundTrip(t, propagation.B3Multi, kv)
	})
}

// jaegerDifference names the deliberate difference from the contrib Jaeger
// propagator that the uber-trace-id value v falls under, or returns "".
func jaegerDifference(v string) string {
	if strings.Contains(v, "%") {
		return "percent-encoded"
	}
	parts := strings.Split(v, ":")
	if len(parts) != 4 {
		return ""
	}
	if isHex(parts[0], true) && !isHex(parts[0], false) || isHex(parts[1], true) && !isHex(parts[1], false) {
		return "upper-case IDs"
	}
	if len(parts[2]) > 16 || !isHex(parts[2], true) {
		return "deprecated parent validated"
	}
	if _, err := strconv.ParseUint(parts[3], 16, 8); err != nil {
		return "flags: one byte in hex"
	}
	return ""
}

func FuzzJaeger(f *testing.F) {
	for _, in := range jaegerInputs {
		f.Add(in.v)
	}
	p := peers()[propagation.Jaeger]
	f.Fuzz(func(t *testing.T, v string) {
		kv := map[string]string{"uber-trace-id": v}
		if jaegerDifference(v) == "" {
			diffPeer(t, p, kv)
		}
		checkRoundTrip(t, propagation.Jaeger, kv)
	})
}

func FuzzBaggage(f *testing.F) {
	for _, in := range baggageInputs {
		f.Add(in.v)
	}
	f.Add(strings.Repeat("k=v,", 3000))
	p := peers()[propagation.Baggage]
	f.Fuzz(func(t *testing.T, v string) {
		kv := map[string]string{"baggage": v}
		if len(v) <= 8192 {
			diffPeer(t, p, kv)
		}
		ctx := p.kntrace.Extract(context.Background(), otelprop.MapCarrier(kv))
		bag := baggage.FromContext(ctx)
		checkBaggageLimits(t, bag)
		// Inject -> extract keeps every member.
		c := otelprop.MapCarrier{}
		p.kntrace.Inject(ctx, c)
		back := baggage.FromContext(p.kntrace.Extract(context.Background(), c))
		if got, want := bagMap(baggage.ContextWithBaggage(context.Background(), back)), bagMap(ctx); !mapsEqual(got, want) {
			t.Fatalf("baggage %q round trip: got %v, want %v", v, got, want)
		}
	})
}

func FuzzUberctx(f *testing.F) {
	f.Add("user-id", "alice%20b", "tenant", "x")
	f.Add("", "", "a b", "%zz")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		p := propagation.New(propagation.WithFormats(propagation.Jaeger))
		c := otelprop.MapCarrier{
			"uber-trace-id": tid128 + ":" + sid + ":0:1",
			"uberctx-" + k1: v1,
			"uberctx-" + k2: v2,
		}
		ctx := p.Extract(context.Background(), c)
		if !trace.SpanContextFromContext(ctx).IsValid() {
			t.Fatal("valid uber-trace-id not extracted")
		}
		bag := baggage.FromContext(ctx)
		checkBaggageLimits(t, bag)
		out := otelprop.MapCarrier{}
		p.Inject(ctx, out)
		checkUberctxRoundTrip(t, p, bag, out)
	})
}

// checkUberctxRoundTrip checks that the uberctx-* headers in out, which p
// injected for bag, decode back to bag's values with kntrace, with the
// decoding jaeger-client-go and -java use (+ is a space) and with the one
// jaeger-client-node and -python use (+ stays).
func checkUberctxRoundTrip(t *testing.T, p *propagation.Propagator, bag baggage.Baggage, out otelprop.MapCarrier) {
	t.Helper()
	back := baggage.FromContext(p.Extract(context.Background(), out))
	for _, m := range bag.Members() {
		if !isToken(m.Key()) {
			if v, ok := out["uberctx-"+m.Key()]; ok {
				t.Fatalf("uberctx-%s: %q written although the key cannot be a header name", m.Key(), v)
			}
			continue
		}
		if got := back.Member(m.Key()).Value(); got != m.Value() {
			t.Fatalf("uberctx %q round trip: got %q, want %q", m.Key(), got, m.Value())
		}
		enc := out["uberctx-"+m.Key()]
		if got, err := url.QueryUnescape(enc); err != nil || got != m.Value() {
			t.Fatalf("uberctx-%s: %q decodes as %q, %v with jaeger-client-go's decoding; want %q", m.Key(), enc, got, err, m.Value())
		}
		if got, err := url.PathUnescape(enc); err != nil || got != m.Value() {
			t.Fatalf("uberctx-%s: %q decodes as %q, %v with jaeger-client-node's decoding; want %q", m.Key(), enc, got, err, m.Value())
		}
	}
}

// isToken reports whether s can be part of an HTTP header name.
func isToken(s string) bool {
	return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") == ""
}

// FuzzJaegerBaggage reads a lone jaeger-baggage header: the limits hold and
// what it yields is written back as uberctx-* headers every client decodes.
func FuzzJaegerBaggage(f *testing.F) {
	f.Add("k1=v1, k2 = v2, k3=v3=d3")
	f.Add("kevin%20spacey=se7en%3Aactor")
	f.Add("key1=, key2=")
	f.Add("a=1+2,%zz=3")
	f.Add("Key=1,key=2,kevin spacey=3")
	p := propagation.New(propagation.WithFormats(propagation.Jaeger))
	f.Fuzz(func(t *testing.T, v string) {
		ctx := p.Extract(context.Background(), otelprop.MapCarrier{"jaeger-baggage": v})
		bag := baggage.FromContext(ctx)
		checkBaggageLimits(t, bag)
		ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled}))
		out := otelprop.MapCarrier{}
		p.Inject(ctx, out)
		checkUberctxRoundTrip(t, p, bag, out)
	})
}

func checkBaggageLimits(t *testing.T, bag baggage.Baggage) {
	t.Helper()
	if n := bag.Len(); n > 64 {
		t.Fatalf("baggage has %d members", n)
	}
	if n := len(bag.String()); n > 8192 {
		t.Fatalf("baggage is %d bytes", n)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func FuzzOTELPropagators(f *testing.F) {
	for _, s := range []string{"", "none", "tracecontext,baggage", " b3 , B3Multi ,jaeger", "xray", "tracecontext,,baggage", "none,b3", "foo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := propagation.ParseList(s)
		if err != nil {
			if !errors.Is(err, propagation.ErrUnknownPropagator) || !strings.Contains(err.Error(), strings.Join(propagation.Names(), ", ")) {
				t.Fatalf("ParseList(%q) error %q does not list the accepted values", s, err)
			}
			return
		}
		var names []string
		for _, f := range fs {
			if !slices.Contains(propagation.Names(), f.String()) {
				t.Fatalf("ParseList(%q) returned %v", s, f)
			}
			names = append(names, f.String())
		}
		if len(names) == 0 {
			names = []string{propagation.None}
		}
		again, err := propagation.ParseList(strings.Join(names, ","))
		if err != nil || !slices.Equal(again, fs) {
			t.Fatalf("ParseList(%q) = %v, but its names parse as %v, %v", s, fs, again, err)
		}
	})
}
