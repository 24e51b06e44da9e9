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
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// W3C Baggage limits. The W3C limit is 8192 bytes; its member limit (180
// in the published recommendation) is above what go.opentelemetry.io/otel/baggage
// can hold (64 members), so 64 is the effective one: members past either
// limit are dropped, silently, keeping the leading ones.
const (
	maxBaggageBytes   = 8192
	maxBaggageMembers = 64
)

// extractW3C parses the traceparent header tpKey exactly as
// propagation.TraceContext does (any version up to 254; for version 00
// exactly four fields and flags up to 0x03; lower-case hex only), without
// allocating, except that a traceparent sent more than once is refused: its
// field lines combine into a list, which is not a traceparent. The
// tracestate lines tsKey are read as one list (parseTracestate); the
// returned state is non-nil only when the list holds members
// trace.TraceState cannot.
func extractW3C(r reader, tpKey, tsKey headerKey) (trace.SpanContext, *w3cState, bool) {
	h, one := r.only(tpKey)
	if !one || h == "" {
		return trace.SpanContext{}, nil, false
	}
	var ver, opts [1]byte
	var scc trace.SpanContextConfig
	if !w3cPart(ver[:], &h, 2) || ver[0] > 254 ||
		!w3cPart(scc.TraceID[:], &h, 32) ||
		!w3cPart(scc.SpanID[:], &h, 16) ||
		!w3cPart(opts[:], &h, 2) {
		return trace.SpanContext{}, nil, false
	}
	if ver[0] == 0 && (h != "" || opts[0] > 3) {
		return trace.SpanContext{}, nil, false
	}
	if !scc.TraceID.IsValid() || !scc.SpanID.IsValid() {
		return trace.SpanContext{}, nil, false
	}
	scc.TraceFlags = trace.TraceFlags(opts[0]) & (trace.FlagsSampled | trace.FlagsRandom)
	var st *w3cState
	if r.header {
		if vs := r.h[tsKey.canon]; len(vs) > 0 {
			scc.TraceState, st = parseTracestate(vs, scc.TraceID)
		}
	} else if vs := r.values(tsKey); len(vs) > 0 {
		scc.TraceState, st = parseTracestate(vs, scc.TraceID)
	}
	scc.Remote = true
	return trace.NewSpanContext(scc), st, true
}

// w3cPart decodes the next '-'-separated field of *h, which must be n
// lower-case hex digits, into dst.
func w3cPart(dst []byte, h *string, n int) bool {
	part, left, _ := strings.Cut(*h, "-")
	*h = left
	if len(part) != n {
		return false
	}
	return decodeHex(dst, part)
}

// decodeHex decodes the lower-case hex s (even length) into dst.
func decodeHex(dst []byte, s string) bool {
	for i := 0; i+1 < len(s); i += 2 {
		hi, lo := hexRev[s[i]], hexRev[s[i+1]]
		if hi|lo > 0x0f {
			return false
		}
		dst[i/2] = hi<<4 | lo
	}
	return true
}

// decodeHexAnyCase decodes 1 to 2*len(dst) hex digits of either case into
// dst, right-aligned and left-padded with zeros, as the Jaeger clients
// read IDs (and the contrib B3 and Jaeger propagators pad short ones).
func decodeHexAnyCase(dst []byte, s string) bool {
	if s == "" || len(s) > 2*len(dst) {
		return false
	}
	clear(dst)
	j := len(dst) - 1
	i := len(s)
	for ; i >= 2; i -= 2 {
		hi, lo := hexRevAny[s[i-2]], hexRevAny[s[i-1]]
		if hi|lo > 0x0f {
			return false
		}
		dst[j] = hi<<4 | lo
		j--
	}
	if i == 1 {
		lo := hexRevAny[s[0]]
		if lo > 0x0f {
			return false
		}
		dst[j] = lo
	}
	return true
}

var hexRev = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	return t
}()

// hexRevAny is hexRev that also reads upper-case digits.
var hexRevAny = func() (t [256]byte) {
	t = hexRev
	for c := 'A'; c <= 'F'; c++ {
		t[c] = byte(c-'A') + 10
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// injectW3C writes traceparent (version 00) and tracestate as
// propagation.TraceContext does, the tracestate including the members of
// st the span context could not hold (tracestateFor).
func injectW3C(sc trace.SpanContext, st *w3cState, w writer, tpKey, tsKey headerKey) {
	if !sc.IsValid() {
		return
	}
	if ts := tracestateFor(sc, st); ts != "" {
		w.set(tsKey, ts)
	}
	var buf [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	buf[0], buf[1], buf[2] = '0', '0', '-'
	hex.Encode(buf[3:35], tid[:])
	buf[35] = '-'
	hex.Encode(buf[36:52], sid[:])
	buf[52] = '-'
	fl := byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))
	buf[53], buf[54] = hexDigits[fl>>4], hexDigits[fl&0x0f]
	w.set(tpKey, string(buf[:]))
}

// extractW3CBaggage reads the baggage header (all its values, when the
// carrier holds several) into ctx's baggage. Members beyond the limits and
// malformed members are dropped; the request never sees an error.
func extractW3CBaggage(ctx context.Context, r reader) context.Context {
	vals := r.values(hBaggage)
	var s string
	switch len(vals) {
	case 0:
		return ctx
	case 1:
		s = vals[0]
	default:
		s = strings.Join(vals, ",")
	}
	if s == "" {
		return ctx
	}
	if len(s) > maxBaggageBytes {
		s = truncateBaggage(s)
	}
	bag, _ := baggage.Parse(s) // partial result on error: invalid or excess members dropped
	if bag.Len() == 0 {
		return ctx
	}
	return baggage.ContextWithBaggage(ctx, bag)
}

// truncateBaggage cuts s after the last whole member that ends within
// maxBaggageBytes.
func truncateBaggage(s string) string {
	i := strings.LastIndexByte(s[:maxBaggageBytes+1], ',')
	if i < 0 {
		return ""
	}
	return s[:i]
}

func injectW3CBaggage(ctx context.Context, w writer) {
	if s := baggage.FromContext(ctx).String(); s != "" {
		w.set(hBaggage, s)
	}
}
