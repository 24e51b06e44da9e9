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

func TestParseJaegerFlags(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   byte
		wantOK bool
	}{
		{name: "one digit", in: "1", want: 1, wantOK: true},
		{name: "two digits", in: "03", want: 3, wantOK: true},
		{name: "upper case", in: "1F", want: 0x1f, wantOK: true},
		{name: "leading zeros", in: "0000000003", want: 3, wantOK: true},
		{name: "one byte max", in: "ff", want: 0xff, wantOK: true},
		{name: "over one byte", in: "100"},
		{name: "decimal 255 is hex 0x255", in: "255"},
		{name: "negative", in: "-1"},
		{name: "plus", in: "+1"},
		{name: "empty", in: ""},
		{name: "prefix", in: "0x1"},
		{name: "space", in: " 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseJaegerFlags(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("parseJaegerFlags(%q) = %#x, %v; want %#x, %v", tt.in, got, ok, tt.want, tt.wantOK)
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
