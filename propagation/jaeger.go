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
	"net/url"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"
)

// extractJaeger parses uber-trace-id as the Jaeger clients read it:
// {trace-id}:{span-id}:{parent-span-id}:{flags}, where
//
//   - a value holding "%" is URL-decoded first (the clients' HTTP header
//     codecs decode it, so "%3A" separators are accepted);
//   - the trace ID is 1 to 32 and the span ID 1 to 16 hex digits of either
//     case, not zero, left-padded with zeros;
//   - the deprecated parent span ID is 1 to 16 hex digits of either case
//     (zero, a root, included): validated, never used;
//   - flags are one byte written in hex (leading zeros allowed, no sign, at
//     most ff), bit 0x1 sampled, 0x2 (with 0x1) debug.
//
// The package documentation explains why flags are read as hex although
// jaeger-client-go reads them as decimal.
func extractJaeger(h string) (trace.SpanContext, flags, bool) {
	if h == "" {
		return trace.SpanContext{}, 0, false
	}
	if strings.IndexByte(h, '%') >= 0 {
		d, err := url.QueryUnescape(h)
		if err != nil {
			return trace.SpanContext{}, 0, false
		}
		h = d
	}
	tid, rest, ok1 := strings.Cut(h, ":")
	sid, rest, ok2 := strings.Cut(rest, ":")
	parent, fs, ok3 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || !ok3 || strings.IndexByte(fs, ':') >= 0 {
		return trace.SpanContext{}, 0, false
	}
	var scc trace.SpanContextConfig
	var pid [8]byte
	if !decodeHexAnyCase(scc.TraceID[:], tid) || !scc.TraceID.IsValid() ||
		!decodeHexAnyCase(scc.SpanID[:], sid) || !scc.SpanID.IsValid() ||
		!decodeHexAnyCase(pid[:], parent) {
		return trace.SpanContext{}, 0, false
	}
	v, ok := parseJaegerFlags(fs)
	if !ok {
		return trace.SpanContext{}, 0, false
	}
	var fl flags
	if v&1 == 1 {
		scc.TraceFlags = trace.FlagsSampled
		if v&2 == 2 {
			fl = flagDebug
		}
	}
	return trace.NewSpanContext(scc), fl, true
}

// parseJaegerFlags reads the flags field: hex digits of either case whose
// value fits one byte.
func parseJaegerFlags(s string) (byte, bool) {
	if s == "" {
		return 0, false
	}
	var v uint
	for i := 0; i < len(s); i++ {
		d := hexRevAny[s[i]]
		if d > 0x0f {
			return 0, false
		}
		v = v<<4 | uint(d)
		if v > 0xff {
			return 0, false
		}
	}
	return byte(v), true
}

// jaegerDecode URL-decodes a Jaeger header value as the clients' HTTP codecs
// do ("+" is a space); a value that does not decode is kept as it is.
func jaegerDecode(v string) string {
	if strings.IndexByte(v, '%') < 0 && strings.IndexByte(v, '+') < 0 {
		return v
	}
	if d, err := url.QueryUnescape(v); err == nil {
		return d
	}
	return v
}

// jaegerEncode URL-encodes a baggage value so that every Jaeger client
// decodes it back to the same text: everything but letters, digits and
// "-_.~" percent-encoded, a space as %20 (never "+", which
// decodeURIComponent in jaeger-client-node and unquote in
// jaeger-client-python leave as "+").
func jaegerEncode(v string) string {
	e := url.QueryEscape(v)
	if strings.IndexByte(e, '+') < 0 {
		return e
	}
	return strings.ReplaceAll(e, "+", "%20")
}

// injectJaeger writes uber-trace-id: {trace-id}:{span-id}:0:{flags} with
// flags 3 for debug, 1 sampled, 0 not sampled.
func injectJaeger(sc trace.SpanContext, fl flags, w writer) {
	if !sc.IsValid() {
		return
	}
	var buf [32 + 1 + 16 + 4]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(buf[:32], tid[:])
	buf[32] = ':'
	hex.Encode(buf[33:49], sid[:])
	buf[49], buf[50], buf[51] = ':', '0', ':'
	switch {
	case fl&flagDebug != 0:
		buf[52] = '3'
	case sc.IsSampled():
		buf[52] = '1'
	default:
		buf[52] = '0'
	}
	w.set(hUberTraceID, string(buf[:]))
}

// extractJaegerBaggage adds Jaeger baggage to ctx's baggage, as the Jaeger
// clients read it: uberctx-<key> headers (values URL-decoded) and the
// jaeger-baggage header (k1=v1, k2=v2, URL-decoded as a whole; spaces around
// keys and values trimmed; a member without exactly one "=" skipped). Keys
// are lower-cased, as header names lose their case. On a key conflict W3C
// baggage wins over uberctx-*, which wins over jaeger-baggage. The W3C
// baggage limits apply.
func extractJaegerBaggage(ctx context.Context, r reader) context.Context {
	var keys []string
	if r.header {
		for k := range r.h {
			if hasUberctxPrefix(k) {
				keys = append(keys, k)
			}
		}
	} else {
		for _, k := range r.c.Keys() {
			if hasUberctxPrefix(k) {
				keys = append(keys, k)
			}
		}
	}
	adhoc := r.get(hJaegerBaggage)
	if len(keys) == 0 && adhoc == "" {
		return ctx
	}
	slices.Sort(keys) // deterministic choice when limits drop members

	bag := baggage.FromContext(ctx)
	members := bag.Members()
	size := len(bag.String())
	added := false
	seen := func(name string) bool {
		for _, m := range members {
			if m.Key() == name {
				return true
			}
		}
		return false
	}
	add := func(name, v string) bool {
		if seen(name) {
			return true
		}
		m, err := baggage.NewMemberRaw(name, v)
		if err != nil {
			return true
		}
		if len(members) >= maxBaggageMembers {
			return false
		}
		n := len(m.String())
		if n == 0 { // a key W3C baggage cannot write still takes its room
			n = len(name) + 1 + len(v)
		}
		if len(members) > 0 {
			n++
		}
		if size+n > maxBaggageBytes {
			return true
		}
		members = append(members, m)
		size += n
		added = true
		return true
	}
	for _, k := range keys {
		var v string
		if r.header {
			v = r.h[k][0]
		} else {
			v = r.c.Get(k)
		}
		if !add(strings.ToLower(k[len(uberctxPrefix):]), jaegerDecode(v)) {
			break
		}
	}
	if adhoc != "" {
		for part := range strings.SplitSeq(jaegerDecode(adhoc), ",") {
			k, v, ok := strings.Cut(part, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || strings.IndexByte(v, '=') >= 0 {
				continue
			}
			if !add(strings.ToLower(k), v) {
				break
			}
		}
	}
	if !added {
		return ctx
	}
	b, err := baggage.New(members...)
	if err != nil && b.Len() == 0 {
		return ctx
	}
	return baggage.ContextWithBaggage(ctx, b)
}

func hasUberctxPrefix(k string) bool {
	return len(k) > len(uberctxPrefix) && strings.EqualFold(k[:len(uberctxPrefix)], uberctxPrefix)
}

// injectUberctx writes ctx's baggage as Jaeger uberctx-<key> headers,
// values encoded with jaegerEncode. A key that cannot be part of a header
// name (a space, say) is not written: an HTTP client refuses to send such
// a header, and tracing must not fail the request.
func injectUberctx(ctx context.Context, w writer) {
	bag := baggage.FromContext(ctx)
	if bag.Len() == 0 {
		return
	}
	for _, m := range bag.Members() {
		if !headerToken(m.Key()) {
			continue
		}
		k, v := uberctxPrefix+m.Key(), jaegerEncode(m.Value())
		if w.header {
			w.h.Set(k, v)
		} else {
			w.c.Set(k, v)
		}
	}
}

// headerToken reports whether s is an RFC 9110 token, the characters a
// header name is made of.
func headerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
