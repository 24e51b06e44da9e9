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
	"net/textproto"
	"testing"
)

// TestHeaderKeys checks the canonical forms the http.Header fast path uses.
func TestHeaderKeys(t *testing.T) {
	for _, k := range []headerKey{
		hTraceparent, hTracestate, hBaggage, hB3, hB3TraceID, hB3SpanID, hB3ParentID,
		hB3Sampled, hB3Flags, hUberTraceID, hCETraceparent, hCETracestate,
	} {
		if got := textproto.CanonicalMIMEHeaderKey(k.lower); got != k.canon {
			t.Errorf("canonical form of %q is %q, the table says %q", k.lower, got, k.canon)
		}
	}
}

func TestParseHexInt64(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want uint64
		ok   bool
	}{
		{name: "one", in: "1", want: 1, ok: true},
		{name: "upper", in: "1F", want: 0x1f, ok: true},
		{name: "leading zeros", in: "00000000000000000000003", want: 3, ok: true},
		{name: "max", in: "7fffffffffffffff", want: 1<<63 - 1, ok: true},
		{name: "over max", in: "8000000000000000"},
		{name: "min", in: "-8000000000000000", want: 1 << 63, ok: true},
		{name: "under min", in: "-8000000000000001"},
		{name: "negative one", in: "-1", want: 1<<64 - 1, ok: true},
		{name: "plus", in: "+2", want: 2, ok: true},
		{name: "sign only", in: "-"},
		{name: "prefix", in: "0x1"},
		{name: "underscore", in: "1_0"},
		{name: "huge", in: "1000000000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseHexInt64(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("parseHexInt64(%q) = %#x, %v; want %#x, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
