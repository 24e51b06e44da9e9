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
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// extractJaeger parses uber-trace-id as the contrib Jaeger propagator does:
// {trace-id}:{span-id}:{parent-span-id}:{flags}, IDs of up to 32 and 16
// lower-case hex digits left-padded with zeros, flags a signed hex integer
// whose bit 0x1 means sampled and 0x2 (with 0x1) debug.
func extractJaeger(h string) (trace.SpanContext, flags, bool) {
	if h == "" {
		return trace.SpanContext{}, 0, false
	}
	tid, rest, ok1 := strings.Cut(h, ":")
	sid, rest, ok2 := strings.Cut(rest, ":")
	_, fs, ok3 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || !ok3 || strings.IndexByte(fs, ':') >= 0 {
		return trace.SpanContext{}, 0, false
	}
	var scc trace.SpanContextConfig
	if !decodeHexRight(scc.TraceID[:], tid) || !scc.TraceID.IsValid() ||
		!decodeHexRight(scc.SpanID[:], sid) || !scc.SpanID.IsValid() {
		return trace.SpanContext{}, 0, false
	}
	var fl flags
	if fs != "" {
		v, ok := parseHexInt64(fs)
		if !ok {
			return trace.SpanContext{}, 0, false
		}
		if v&1 == 1 {
			scc.TraceFlags = trace.FlagsSampled
			if v&2 == 2 {
				fl = flagDebug
			}
		}
	}
	return trace.NewSpanContext(scc), fl, true
}

// parseHexInt64 is strconv.ParseInt(s, 16, 64) without the error value: an
// optional sign, then hex digits of either case, within int64's range. It
// returns the two's complement bits.
func parseHexInt64(s string) (uint64, bool) {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		if v > (1<<64-1)>>4 {
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -v, true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return v, true
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
