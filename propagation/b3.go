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
	"encoding/hex"

	"go.opentelemetry.io/otel/trace"
)

// extractB3Single parses a b3 header as go.opentelemetry.io/contrib/propagators/b3
// does: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]], 64-bit trace
// IDs left-padded to 128 bits, except that every separator must be "-"
// (contrib checks only the first), as Zipkin's specification and Envoy
// require. A header without IDs (sampling state only) carries no span
// context (see b3SingleDecision).
func extractB3Single(h string) (trace.SpanContext, flags, bool) {
	n := len(h)
	if n < 33 {
		return trace.SpanContext{}, 0, false
	}
	var scc trace.SpanContextConfig
	var pos int
	switch {
	case h[16] == '-':
		if !decodeHex(scc.TraceID[8:], h[:16]) {
			return trace.SpanContext{}, 0, false
		}
		pos = 16
	case h[32] == '-':
		if !decodeHex(scc.TraceID[:], h[:32]) {
			return trace.SpanContext{}, 0, false
		}
		pos = 32
	default:
		return trace.SpanContext{}, 0, false
	}
	pos++
	if n < pos+16 || !scc.TraceID.IsValid() ||
		!decodeHex(scc.SpanID[:], h[pos:pos+16]) || !scc.SpanID.IsValid() {
		return trace.SpanContext{}, 0, false
	}
	pos += 16

	var fl flags
	if n == pos {
		fl = flagDeferred
	} else {
		if h[pos] != '-' {
			return trace.SpanContext{}, 0, false
		}
		pos++
		switch n {
		case pos + 1:
		case pos + 2 + 16:
			if h[pos+1] != '-' {
				return trace.SpanContext{}, 0, false
			}
			if _, err := trace.SpanIDFromHex(h[pos+2:]); err != nil {
				return trace.SpanContext{}, 0, false
			}
		default:
			return trace.SpanContext{}, 0, false
		}
		switch h[pos] {
		case 'd':
			fl = flagDebug
			scc.TraceFlags = trace.FlagsSampled
		case '1':
			scc.TraceFlags = trace.FlagsSampled
		case '0':
		default:
			return trace.SpanContext{}, 0, false
		}
	}
	return trace.NewSpanContext(scc), fl, true
}

// b3SingleDecision reads a b3 header that carries only a sampling state:
// "0" (deny), "1" (accept) or "d" (debug).
func b3SingleDecision(h string) flags {
	switch h {
	case "0":
		return flagOnlyDeny
	case "1":
		return flagOnlyAccept
	case "d":
		return flagOnlyDebug | flagDebug
	}
	return 0
}

// b3MultiDecision reads X-B3-Sampled and X-B3-Flags sent without
// X-B3-TraceId and X-B3-SpanId (a predefined decision, in Zipkin's words):
// X-B3-Flags: 1 is debug, whatever X-B3-Sampled says; otherwise
// X-B3-Sampled 0 or false denies and 1 or true accepts. Any other value, or
// a header set that carries one of the IDs, is no decision.
func b3MultiDecision(r reader) flags {
	if r.get(hB3TraceID) != "" || r.get(hB3SpanID) != "" {
		return 0
	}
	if r.get(hB3Flags) == "1" {
		return flagOnlyDebug | flagDebug
	}
	switch sampled := r.get(hB3Sampled); {
	case sampled == "0" || asciiEqualFold(sampled, "false"):
		return flagOnlyDeny
	case sampled == "1" || asciiEqualFold(sampled, "true"):
		return flagOnlyAccept
	}
	return 0
}

// extractB3Multi parses the X-B3-* headers as the contrib B3 propagator does,
// except that X-B3-ParentSpanId may be shorter than 16 hex digits (either
// case, zero included), as the Jaeger clients' B3 codecs read it: the
// parent is validated, never used. The trace and span IDs are read first:
// without both there is no span context and the other headers are not
// parsed.
func extractB3Multi(r reader) (trace.SpanContext, flags, bool) {
	traceID := r.get(hB3TraceID)
	if traceID == "" {
		return trace.SpanContext{}, 0, false
	}
	spanID := r.get(hB3SpanID)
	if spanID == "" {
		return trace.SpanContext{}, 0, false
	}
	var (
		scc trace.SpanContextConfig
		fl  flags
	)
	switch sampled := r.get(hB3Sampled); {
	case sampled == "0" || asciiEqualFold(sampled, "false"):
	case sampled == "1" || asciiEqualFold(sampled, "true"):
		scc.TraceFlags = trace.FlagsSampled
	case sampled == "":
		fl = flagDeferred
	default:
		return trace.SpanContext{}, 0, false
	}
	// Only "1" means debug (which implies sampled and overrides
	// X-B3-Sampled); any other X-B3-Flags value is ignored.
	if r.get(hB3Flags) == "1" {
		fl = flagDebug
		scc.TraceFlags = trace.FlagsSampled
	}
	switch len(traceID) {
	case 16:
		if !decodeHex(scc.TraceID[8:], traceID) {
			return trace.SpanContext{}, 0, false
		}
	case 32:
		if !decodeHex(scc.TraceID[:], traceID) {
			return trace.SpanContext{}, 0, false
		}
	default:
		return trace.SpanContext{}, 0, false
	}
	var err error
	if !scc.TraceID.IsValid() {
		return trace.SpanContext{}, 0, false
	}
	if scc.SpanID, err = trace.SpanIDFromHex(spanID); err != nil {
		return trace.SpanContext{}, 0, false
	}
	if parent := r.get(hB3ParentID); parent != "" {
		var p [8]byte
		if !decodeHexAnyCase(p[:], parent) {
			return trace.SpanContext{}, 0, false
		}
	}
	return trace.NewSpanContext(scc), fl, true
}

// asciiEqualFold reports whether s equals the lower-case ASCII word t,
// ignoring ASCII case (what strings.ToLower(s) == t means for such t).
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}

// injectB3Single writes b3: {TraceId}-{SpanId}[-{1|0|d}], leaving the
// sampling state out for a deferred context, as the contrib propagator does.
func injectB3Single(sc trace.SpanContext, fl flags, w writer) {
	if !sc.IsValid() {
		return
	}
	var buf [32 + 1 + 16 + 2]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(buf[:32], tid[:])
	buf[32] = '-'
	hex.Encode(buf[33:49], sid[:])
	n := 49
	switch {
	case fl&flagDebug != 0:
		buf[49], buf[50], n = '-', 'd', 51
	case fl&flagDeferred != 0:
	case sc.IsSampled():
		buf[49], buf[50], n = '-', '1', 51
	default:
		buf[49], buf[50], n = '-', '0', 51
	}
	w.set(hB3, string(buf[:n]))
}

// injectB3Multi writes the X-B3-* headers: X-B3-Flags: 1 instead of
// X-B3-Sampled for debug, neither for a deferred context.
func injectB3Multi(sc trace.SpanContext, fl flags, w writer) {
	if !sc.IsValid() {
		return
	}
	w.set(hB3TraceID, sc.TraceID().String())
	w.set(hB3SpanID, sc.SpanID().String())
	switch {
	case fl&flagDebug != 0:
		w.set(hB3Flags, "1")
	case fl&flagDeferred != 0:
	case sc.IsSampled():
		w.set(hB3Sampled, "1")
	default:
		w.set(hB3Sampled, "0")
	}
}
