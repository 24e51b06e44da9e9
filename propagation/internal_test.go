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
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
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

func TestTracestateKeyGrammar(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		wantLevel2 bool // valid by the Level 2 grammar kntrace reads
		wantLevel1 bool // valid by the Level 1 grammar trace.TraceState holds
	}{
		{name: "simple", key: "rojo", wantLevel2: true, wantLevel1: true},
		{name: "all simple characters", key: "a0_-*/z", wantLevel2: true, wantLevel1: true},
		{name: "digit first", key: "1rojo", wantLevel2: true},
		{name: "multi-tenant", key: "tenant@system", wantLevel2: true, wantLevel1: true},
		{name: "digit-first tenant", key: "0tenant@system", wantLevel2: true, wantLevel1: true},
		{name: "empty system", key: "foo@", wantLevel2: true},
		{name: "two at signs", key: "foo@@bar", wantLevel2: true},
		{name: "three parts", key: "foo@bar@baz", wantLevel2: true},
		{name: "digit-first system", key: "foo@1bar", wantLevel2: true},
		{name: "241-character tenant", key: strings.Repeat("t", 241) + "@" + strings.Repeat("v", 14), wantLevel2: true, wantLevel1: true},
		{name: "242-character tenant", key: strings.Repeat("t", 242) + "@v", wantLevel2: true},
		{name: "15-character system", key: "t@" + strings.Repeat("v", 15), wantLevel2: true},
		{name: "256 characters", key: strings.Repeat("z", 256), wantLevel2: true, wantLevel1: true},
		{name: "257 characters", key: strings.Repeat("z", 257)},
		{name: "at sign first", key: "@foo"},
		{name: "upper case", key: "FOO"},
		{name: "dot", key: "foo.bar"},
		{name: "space", key: "foo "},
		{name: "empty", key: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l2 := validTracestateKey(tt.key)
			l1 := l2 && level1Key(tt.key)
			if l2 != tt.wantLevel2 || l1 != tt.wantLevel1 {
				t.Fatalf("key %q: Level 2 %v, Level 1 %v; want %v, %v", tt.key, l2, l1, tt.wantLevel2, tt.wantLevel1)
			}
			if l2 {
				_, err := trace.ParseTraceState(tt.key + "=1")
				if (err == nil) != tt.wantLevel1 {
					t.Fatalf("key %q: trace.ParseTraceState error %v, but level1Key says %v", tt.key, err, tt.wantLevel1)
				}
			}
		})
	}
}
