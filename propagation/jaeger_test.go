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
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/baggage"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

// bagValues returns ctx's baggage as key → value.
func bagValues(ctx context.Context) map[string]string {
	out := map[string]string{}
	for _, m := range baggage.FromContext(ctx).Members() {
		out[m.Key()] = m.Value()
	}
	return out
}

func TestJaegerConformance(t *testing.T) {
	pad := func(id string, n int) string { return strings.Repeat("0", n-len(id)) + id }
	none := extracted{}
	tests := []struct {
		name   string
		source string
		value  string // uber-trace-id
		want   extracted
	}{
		{name: "short IDs, flags 4", source: "jaeger-client-java TextMapCodecTest testContextFromString",
			value: "ff:dd:cc:4", want: extracted{TraceID: pad("ff", 32), SpanID: pad("dd", 16)}},
		{name: "128-bit trace ID", source: "jaeger-client-java TextMapCodecTest testContextFromStringWith128BitTraceId",
			value: "100000000000000ff:dd:cc:4", want: extracted{TraceID: pad("100000000000000ff", 32), SpanID: pad("dd", 16)}},
		{name: "no colons", source: "jaeger-client-java TextMapCodecTest testContextFromStringNoColons", value: "ff", want: none},
		{name: "one colon", source: "jaeger-client-java TextMapCodecTest testContextFromStringOnly1Colon", value: "ff:ff", want: none},
		{name: "two colons", source: "jaeger-client-java TextMapCodecTest testContextFromStringOnly2Colons", value: "ff:ff:ff", want: none},
		{name: "too many colons", source: "jaeger-client-java TextMapCodecTest testContextFromStringTooManyColons", value: "ff:ff:ff:ff:ff", want: none},
		{name: "empty span ID", source: "jaeger-client-java TextMapCodecTest testContextFromStringEmptySpanIdException", value: "ff::ff:ff", want: none},
		{name: "empty parent ID", source: "jaeger-client-java TextMapCodecTest testContextFromStringEmptyParentIdException", value: "ff:ff::ff", want: none},
		{name: "empty flags", source: "jaeger-client-java TextMapCodecTest testContextFromStringEmptyFlagsException", value: "ff:ff:ff:", want: none},
		{name: "non-hex parent", source: "jaeger-client-java TextMapCodecTest testContextFromStringNonHexDigitException", value: "ff:ff:fg:ff", want: none},
		{name: "empty", source: "jaeger-client-java TextMapCodecTest testContextFromStringEmptyException", value: "", want: none},
		{name: "trace ID too long", source: "jaeger-client-java TextMapCodecTest testContextFromStringTraceIdOutOfBoundExceptionTooBig",
			value: "123456789012345678901234567890123:ff:ff:ff", want: none},
		{name: "trace ID empty", source: "jaeger-client-java TextMapCodecTest testContextFromStringTraceIdOutOfBoundExceptionToSmall",
			value: ":ff:ff:ff", want: none},
		{name: "flags 81 are sampled, not debug", source: "jaeger-client-java TextMapCodecTest testContextAsStringFormatsPositiveFields",
			value: "fffffffffffffff6:fffffffffffffff6:fffffffffffffff6:81", want: extracted{TraceID: pad("fffffffffffffff6", 32), SpanID: "fffffffffffffff6", Sampled: true}},
		{name: "not encoded", source: "jaeger-client-java TextMapCodecTest testExtractSupportNonEncodedSpanContext",
			value: "2a:1:0:1", want: extracted{TraceID: pad("2a", 32), SpanID: pad("1", 16), Sampled: true}},
		{name: "percent-encoded", source: "jaeger-client-java TextMapCodecTest testExtractSupportEncodedSpanContext",
			value: "2a%3A1%3A0%3A1", want: extracted{TraceID: pad("2a", 32), SpanID: pad("1", 16), Sampled: true}},
		{name: "lower-case percent-encoding", source: "jaeger-client-go propagation.go (url.QueryUnescape)",
			value: "2a%3a1%3a0%3a3", want: extracted{TraceID: pad("2a", 32), SpanID: pad("1", 16), Sampled: true, Debug: true}},
		{name: "broken percent-encoding", source: "jaeger-client-go propagation.go (url.QueryUnescape)", value: "2a%3A1%3A0%3", want: none},
		{name: "node short IDs", source: "jaeger-client-node test/span_context.js",
			value: "100:7f:0:1", want: extracted{TraceID: pad("100", 32), SpanID: pad("7f", 16), Sampled: true}},
		{name: "node largest 64-bit", source: "jaeger-client-node test/span_context.js",
			value: "ffffffffffffffff:ffffffffffffffff:5:1", want: extracted{TraceID: pad("ffffffffffffffff", 32), SpanID: "ffffffffffffffff", Sampled: true}},
		{name: "node 128-bit", source: "jaeger-client-node test/span_context.js",
			value: "20000000000000100:7f:0:1", want: extracted{TraceID: pad("20000000000000100", 32), SpanID: pad("7f", 16), Sampled: true}},
		{name: "node bad value", source: "jaeger-client-node test/span_context.js", value: "bad value", want: none},
		{name: "node too many colons", source: "jaeger-client-node test/span_context.js", value: "1:1:1:1:1", want: none},
		{name: "node too few colons", source: "jaeger-client-node test/span_context.js", value: "1:1:1", want: none},
		{name: "node non-hex trace ID", source: "jaeger-client-node test/span_context.js", value: "x:1:1:1", want: none},
		{name: "node non-hex span ID", source: "jaeger-client-node test/span_context.js", value: "1:x:1:1", want: none},
		{name: "node non-hex parent", source: "jaeger-client-node test/span_context.js", value: "1:1:x:1", want: none},
		{name: "node non-hex flags", source: "jaeger-client-node test/span_context.js", value: "1:1:1:x", want: none},
		{name: "node zero trace ID", source: "jaeger-client-node test/span_context.js", value: "0:1:1:1", want: none},
		{name: "zero span ID", source: "jaeger documentation client-libraries.md, span-id 'Value of 0 is not valid'", value: "1:0:0:1", want: none},
		{name: "upper-case IDs", source: "jaeger-client-python codecs.py span_context_from_string (int(x, 16))",
			value: "ABC:DEF:0:1", want: extracted{TraceID: pad("abc", 32), SpanID: pad("def", 16), Sampled: true}},
		{name: "upper-case flags", source: "jaeger-client-go span_context.go (strconv.ParseUint reads either case)",
			value: "abc:def:0:0B", want: extracted{TraceID: pad("abc", 32), SpanID: pad("def", 16), Sampled: true, Debug: true}},
		{name: "negative flags", source: "jaeger-client-python codecs.py (flags < 0 corrupted); kntrace issue 14 ('…:-1')",
			value: "abc:def:0:-1", want: none},
		{name: "negative parent", source: "jaeger-client-python codecs.py (parent_id < 0 corrupted)", value: "abc:def:-1:1", want: none},
		{name: "parent over 16 digits", source: "jaeger-client-go span_context.go SpanIDFromString", value: "abc:def:10000000000000000:1", want: none},
		{name: "flags over one byte", source: "jaeger documentation client-libraries.md, flags 'One byte bitmap'", value: "abc:def:0:100", want: none},
		{name: "flags with leading zeros", source: "jaeger documentation client-libraries.md, 'leading zero may be omitted'",
			value: "abc:def:0:0001", want: extracted{TraceID: pad("abc", 32), SpanID: pad("def", 16), Sampled: true}},
		// jaeger-client-go reads flags as decimal (strconv.ParseUint(…, 10, 8)); the
		// documentation and every client's writer use hex. kntrace reads hex.
		{name: "flags 11: hex 0x11 is sampled, not debug", source: "jaeger documentation (hex) against jaeger-client-go ContextFromString (decimal 11 = sampled+debug)",
			value: "abc:def:0:11", want: extracted{TraceID: pad("abc", 32), SpanID: pad("def", 16), Sampled: true}},
		{name: "flags f: hex 0xf is sampled and debug", source: "jaeger documentation (hex) against jaeger-client-go ContextFromString (refuses f)",
			value: "abc:def:0:f", want: extracted{TraceID: pad("abc", 32), SpanID: pad("def", 16), Sampled: true, Debug: true}},
		{name: "flags 255: hex 0x255 is over one byte", source: "jaeger documentation (hex) against jaeger-client-go ContextFromString (decimal 255)",
			value: "abc:def:0:255", want: none},
		{name: "flags 3 read the same either way", source: "jaeger documentation and jaeger-client-go ContextFromString",
			value: "abc:def:0:3", want: extracted{TraceID: pad("abc", 32), SpanID: pad("def", 16), Sampled: true, Debug: true}},
	}
	p := propagation.New(propagation.WithFormats(propagation.Jaeger))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extractCase(t, p, map[string]string{"uber-trace-id": tt.value}, tt.want)
		})
	}
}

// TestJaegerDebugID: a lone jaeger-debug-id starts a new trace that is
// sampled and debug, its root span tagged with the ID, as the Jaeger
// clients do (under Sampler); with an uber-trace-id it is ignored.
func TestJaegerDebugID(t *testing.T) {
	tests := []struct {
		name      string
		source    string
		headers   map[string]string
		wantID    string // the jaeger-debug-id attribute on the root span
		wantFlags string // uber-trace-id flags written downstream
		wantTrace string // the trace continued, "" for a new one
	}{
		{name: "lone debug ID", source: "jaeger-client-go propagation_test.go TestDebugCorrelationID",
			headers: map[string]string{"jaeger-debug-id": "value1"}, wantID: "value1", wantFlags: "3"},
		{name: "lone URL-encoded debug ID", source: "jaeger-client-node test/text_map_codec.js 'set debug flag when debug-id-header is received'",
			headers: map[string]string{"jaeger-debug-id": url.QueryEscape("value 1")}, wantID: "value 1", wantFlags: "3"},
		{name: "debug ID beside a trace is ignored", source: "jaeger-client-go tracer.go (isDebugIDContainerOnly)",
			headers:   map[string]string{"jaeger-debug-id": "value1", "uber-trace-id": tid128 + ":" + sid + ":0:0"},
			wantFlags: "0", wantTrace: tid128},
	}
	p := propagation.New(propagation.WithFormats(propagation.Jaeger))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
				sdktrace.WithSampler(propagation.Sampler(sdktrace.ParentBased(sdktrace.NeverSample()))))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			ctx := p.Extract(context.Background(), otelprop.HeaderCarrier(h))
			ctx, span := tp.Tracer("test").Start(ctx, "request")
			out := http.Header{}
			p.Inject(ctx, otelprop.HeaderCarrier(out))
			span.End()

			parts := strings.Split(out.Get("uber-trace-id"), ":")
			if len(parts) != 4 || parts[3] != tt.wantFlags {
				t.Errorf("uber-trace-id written %q, want flags %s", out.Get("uber-trace-id"), tt.wantFlags)
			}
			if tt.wantTrace != "" && parts[0] != tt.wantTrace {
				t.Errorf("uber-trace-id written %q, want trace %s continued", out.Get("uber-trace-id"), tt.wantTrace)
			}
			var gotID string
			for _, s := range exp.GetSpans() {
				if s.Parent.IsValid() {
					t.Errorf("span %q has parent %s, want a root", s.Name, s.Parent.SpanID())
				}
				for _, a := range s.Attributes {
					if a.Key == propagation.DebugIDAttribute {
						gotID = a.Value.AsString()
					}
				}
			}
			if tt.wantTrace == "" && gotID != tt.wantID {
				t.Errorf("root span attribute %s = %q, want %q", propagation.DebugIDAttribute, gotID, tt.wantID)
			}
		})
	}
}

func TestJaegerBaggage(t *testing.T) {
	trace64 := "2a:1:0:1"
	tests := []struct {
		name    string
		source  string
		headers map[string]string
		want    map[string]string
	}{
		{name: "jaeger-baggage beside a trace", source: "jaeger-client-java TextMapCodecTest testAdhocBaggageWithTraceId",
			headers: map[string]string{"uber-trace-id": trace64, "jaeger-baggage": "k1=v1, k2 = v2"},
			want:    map[string]string{"k1": "v1", "k2": "v2"}},
		{name: "lone jaeger-baggage", source: "jaeger-client-java TextMapCodecTest testAdhocBaggageWithoutTraceId",
			headers: map[string]string{"jaeger-baggage": "k1=v1, k2 = v2, k3=v3=d3"},
			want:    map[string]string{"k1": "v1", "k2": "v2"}},
		{name: "lone uberctx and jaeger-baggage", source: "jaeger-client-go propagation_test.go TestOnlyBaggageHeaders",
			headers: map[string]string{"uberctx-key1": "val1", "jaeger-baggage": "key2=val2"},
			want:    map[string]string{"key1": "val1", "key2": "val2"}},
		{name: "URL-encoded jaeger-baggage", source: "jaeger-client-go propagation_test.go TestParseCommaSeparatedMap",
			headers: map[string]string{"uber-trace-id": trace64, "jaeger-baggage": "kevin%20spacey=se7en%3Aactor"},
			want:    map[string]string{"kevin spacey": "se7en:actor"}},
		{name: "empty values", source: "jaeger-client-go propagation_test.go TestParseCommaSeparatedMap",
			headers: map[string]string{"uber-trace-id": trace64, "jaeger-baggage": "key1=, key2="},
			want:    map[string]string{"key1": "", "key2": ""}},
		{name: "malformed members", source: "jaeger-client-go propagation_test.go TestParseCommaSeparatedMap",
			headers: map[string]string{"uber-trace-id": trace64, "jaeger-baggage": "malformed, string"},
			want:    map[string]string{}},
		{name: "keys lower-cased", source: "jaeger documentation client-libraries.md (HTTP headers do not preserve case)",
			headers: map[string]string{"uber-trace-id": trace64, "jaeger-baggage": "Key1=a, KEY1=b"},
			want:    map[string]string{"key1": "a"}},
		{name: "uberctx value URL-decoded", source: "jaeger-client-go propagation_test.go TestBaggagePropagationHTTP",
			headers: map[string]string{"uber-trace-id": trace64, "uberctx-some_key": "98%3A765"},
			want:    map[string]string{"some_key": "98:765"}},
		{name: "W3C baggage, then uberctx, then jaeger-baggage", source: "kntrace (the clients leave the order to map iteration)",
			headers: map[string]string{"uber-trace-id": trace64, "baggage": "a=w3c", "uberctx-a": "uberctx", "uberctx-b": "uberctx", "jaeger-baggage": "a=adhoc,b=adhoc,c=adhoc"},
			want:    map[string]string{"a": "w3c", "b": "uberctx", "c": "adhoc"}},
		{name: "no Jaeger baggage when another format wins", source: "kntrace (the winning format's baggage only)",
			headers: map[string]string{"traceparent": "00-" + tid128 + "-" + sid + "-01", "uberctx-a": "1", "jaeger-baggage": "b=2"},
			want:    map[string]string{}},
	}
	p := propagation.New(propagation.WithFormats(propagation.TraceContext, propagation.Baggage, propagation.Jaeger))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for cname, mk := range carriers(tt.headers) {
				got := bagValues(p.Extract(context.Background(), mk()))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s carrier: baggage (-want +got):\n%s", cname, diff)
				}
			}
		})
	}
}

// TestUberctxEncoding: baggage values are written so that each Jaeger
// client's HTTP codec decodes them back to the same text.
func TestUberctxEncoding(t *testing.T) {
	tests := []struct {
		name   string
		source string
		value  string
		want   string
	}{
		{name: "spaces and slash", source: "jaeger documentation client-libraries.md, Value Encoding", value: "value 1 / blah", want: "value%201%20%2F%20blah"},
		{name: "colon", source: "jaeger-client-go propagation_test.go TestBaggagePropagationHTTP", value: "98:765", want: "98%3A765"},
		{name: "plus", source: "jaeger-client-java TextMapCodec (URLDecoder reads + as a space)", value: "a+b", want: "a%2Bb"},
		{name: "unreserved kept", source: "jaeger-client-node TextMapCodec (encodeURIComponent)", value: "Az09-_.~", want: "Az09-_.~"},
		{name: "non-ASCII", source: "jaeger-client-python codecs.py (urllib.parse.quote, UTF-8)", value: "é", want: "%C3%A9"},
	}
	t.Run("key that cannot be a header name", func(t *testing.T) {
		m, _ := baggage.NewMemberRaw("kevin spacey", "actor")
		bag, _ := baggage.New(m)
		ctx := baggage.ContextWithBaggage(context.Background(), bag)
		ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled}))
		out := http.Header{}
		propagation.New(propagation.WithFormats(propagation.Jaeger)).Inject(ctx, otelprop.HeaderCarrier(out))
		for k := range out {
			if strings.HasPrefix(strings.ToLower(k), "uberctx-") {
				t.Errorf("wrote %s, which an HTTP client refuses to send", k)
			}
		}
	})
	decoders := map[string]func(string) (string, error){
		"jaeger-client-go and -java (+ is a space)":  url.QueryUnescape,
		"jaeger-client-node and -python (+ stays +)": url.PathUnescape,
	}
	p := propagation.New(propagation.WithFormats(propagation.Jaeger))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := baggage.NewMemberRaw("k", tt.value)
			if err != nil {
				t.Fatal(err)
			}
			bag, _ := baggage.New(m)
			ctx := baggage.ContextWithBaggage(context.Background(), bag)
			ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled}))
			out := http.Header{}
			p.Inject(ctx, otelprop.HeaderCarrier(out))
			got := out.Get("uberctx-k")
			if got != tt.want {
				t.Errorf("uberctx-k = %q, want %q", got, tt.want)
			}
			for name, decode := range decoders {
				if back, err := decode(got); err != nil || back != tt.value {
					t.Errorf("%s decodes %q as %q, %v; want %q", name, got, back, err, tt.value)
				}
			}
		})
	}
}
