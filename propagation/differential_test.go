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
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel/baggage"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

// peer pairs a kntrace propagator configured for one format with the
// OpenTelemetry propagator for that format.
type peer struct {
	name    string
	kntrace otelprop.TextMapPropagator
	otel    otelprop.TextMapPropagator
}

func peers() map[propagation.Format]peer {
	return map[propagation.Format]peer{
		propagation.TraceContext: {"tracecontext", propagation.New(propagation.WithFormats(propagation.TraceContext)), otelprop.TraceContext{}},
		propagation.Baggage:      {"baggage", propagation.New(propagation.WithFormats(propagation.Baggage)), otelprop.Baggage{}},
		propagation.B3:           {"b3", propagation.New(propagation.WithFormats(propagation.B3)), b3.New(b3.WithInjectEncoding(b3.B3SingleHeader))},
		propagation.B3Multi:      {"b3multi", propagation.New(propagation.WithFormats(propagation.B3Multi)), b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader))},
		propagation.Jaeger:       {"jaeger", propagation.New(propagation.WithFormats(propagation.Jaeger)), jaeger.Jaeger{}},
	}
}

// carriers returns the same headers as a MapCarrier and as an http.Header
// (which takes kntrace's direct map path).
func carriers(kv map[string]string) map[string]func() otelprop.TextMapCarrier {
	return map[string]func() otelprop.TextMapCarrier{
		"map": func() otelprop.TextMapCarrier {
			m := otelprop.MapCarrier{}
			for k, v := range kv {
				m[strings.ToLower(k)] = v
			}
			return m
		},
		"header": func() otelprop.TextMapCarrier {
			h := http.Header{}
			for k, v := range kv {
				h.Set(k, v)
			}
			return otelprop.HeaderCarrier(h)
		},
	}
}

// diffPeer extracts kv with both propagators and compares the span contexts
// and baggage; where the peer found a valid context it also injects each
// result with its own propagator and compares what was written.
func diffPeer(t *testing.T, p peer, kv map[string]string) {
	t.Helper()
	if d := comparePeer(p, kv); d != "" {
		t.Fatal(d)
	}
}

// checkPeer is diffPeer for a table row: a row with a reason in differs
// must differ from the peer (so the list of deliberate differences stays
// true), any other must not.
func checkPeer(t *testing.T, p peer, kv map[string]string, differs string) {
	t.Helper()
	d := comparePeer(p, kv)
	switch {
	case differs == "" && d != "":
		t.Fatal(d)
	case differs != "" && d == "":
		t.Fatalf("%s %q: listed as a deliberate difference (%s), but kntrace and the peer agree", p.name, kv, differs)
	}
}

// comparePeer describes the first difference between kntrace and the peer
// on kv, or returns "".
func comparePeer(p peer, kv map[string]string) string {
	for cname, mk := range carriers(kv) {
		kctx := p.kntrace.Extract(context.Background(), mk())
		octx := p.otel.Extract(context.Background(), mk())
		ksc, osc := trace.SpanContextFromContext(kctx), trace.SpanContextFromContext(octx)
		if !ksc.Equal(osc) {
			return fmt.Sprintf("%s %s carrier %q: span context differs:\nkntrace %s\notel    %s", p.name, cname, kv, dumpSC(ksc), dumpSC(osc))
		}
		if diff := cmp.Diff(bagMap(octx), bagMap(kctx)); diff != "" {
			return fmt.Sprintf("%s %s carrier %q: baggage differs (-otel +kntrace):\n%s", p.name, cname, kv, diff)
		}
		if osc.IsValid() || p.name == "baggage" {
			kout, oout := otelprop.MapCarrier{}, otelprop.MapCarrier{}
			p.kntrace.Inject(kctx, kout)
			p.otel.Inject(octx, oout)
			if diff := cmp.Diff(dumpCarrier(oout), dumpCarrier(kout)); diff != "" {
				return fmt.Sprintf("%s %s carrier %q: injected headers differ (-otel +kntrace):\n%s", p.name, cname, kv, diff)
			}
		}
	}
	return ""
}

func dumpSC(sc trace.SpanContext) string {
	b, _ := sc.MarshalJSON()
	return string(b)
}

func bagMap(ctx context.Context) map[string]string {
	out := map[string]string{}
	for _, m := range baggage.FromContext(ctx).Members() {
		out[m.Key()] = m.String()
	}
	return out
}

const (
	tid128 = "4bf92f3577b34da6a3ce929d0e0e4736"
	tid64  = "a3ce929d0e0e4736"
	sid    = "00f067aa0ba902b7"
	psid   = "b7ad6b7169203331"
)

func TestDifferentialTraceContext(t *testing.T) {
	tests := []struct {
		name    string
		tp      string
		ts      string
		differs string // why kntrace differs from the peer on purpose
	}{
		{name: "sampled", tp: "00-" + tid128 + "-" + sid + "-01"},
		{name: "not sampled", tp: "00-" + tid128 + "-" + sid + "-00"},
		{name: "random flag", tp: "00-" + tid128 + "-" + sid + "-03"},
		{name: "flags over 3 in version 00", tp: "00-" + tid128 + "-" + sid + "-09"},
		{name: "tracestate", tp: "00-" + tid128 + "-" + sid + "-01", ts: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
		{name: "invalid tracestate dropped", tp: "00-" + tid128 + "-" + sid + "-01", ts: "=,,"},
		{name: "tracestate OWS", tp: "00-" + tid128 + "-" + sid + "-01", ts: "foo=1 \t , \t bar=2"},
		{name: "tracestate 33 members", tp: "00-" + tid128 + "-" + sid + "-01", ts: strings.Repeat("a=1,", 32) + "z=1"},
		{name: "tracestate repeated key", tp: "00-" + tid128 + "-" + sid + "-01", ts: "foo=1,foo=2",
			differs: "W3C: a repeated key keeps its first member (test_tracestate_duplicated_keys); trace.ParseTraceState drops the header"},
		{name: "tracestate Level 2 key", tp: "00-" + tid128 + "-" + sid + "-01", ts: "foo@=1,bar=2",
			differs: "W3C Level 2 key grammar (test_tracestate_key_illegal_vendor_format); trace.ParseTraceState drops the header"},
		{name: "tracestate blank member", tp: "00-" + tid128 + "-" + sid + "-01", ts: "foo=1, ,bar=2",
			differs: "W3C: whitespace-only members are allowed; trace.ParseTraceState drops the header"},
		{name: "future version with more fields", tp: "cc-" + tid128 + "-" + sid + "-01-what-the-future-holds"},
		{name: "version ff", tp: "ff-" + tid128 + "-" + sid + "-01"},
		{name: "version 00 extra field", tp: "00-" + tid128 + "-" + sid + "-01-00"},
		{name: "version 00 trailing dash", tp: "00-" + tid128 + "-" + sid + "-01-"},
		{name: "upper case", tp: "00-" + strings.ToUpper(tid128) + "-" + sid + "-01"},
		{name: "zero trace id", tp: "00-00000000000000000000000000000000-" + sid + "-01"},
		{name: "zero span id", tp: "00-" + tid128 + "-0000000000000000-01"},
		{name: "short trace id", tp: "00-" + tid64 + "-" + sid + "-01"},
		{name: "non-hex", tp: "00-" + tid128[:31] + "g-" + sid + "-01"},
		{name: "empty", tp: ""},
		{name: "garbage", tp: "not a traceparent"},
	}
	p := peers()[propagation.TraceContext]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := map[string]string{}
			if tt.tp != "" {
				kv["traceparent"] = tt.tp
			}
			if tt.ts != "" {
				kv["tracestate"] = tt.ts
			}
			checkPeer(t, p, kv, tt.differs)
		})
	}
}

var b3SingleInputs = []struct {
	name, v string
	differs string // why kntrace differs from the contrib propagator on purpose
}{
	{"128 sampled", tid128 + "-" + sid + "-1", ""},
	{"128 not sampled", tid128 + "-" + sid + "-0", ""},
	{"128 debug", tid128 + "-" + sid + "-d", ""},
	{"128 deferred", tid128 + "-" + sid, ""},
	{"128 sampled with parent", tid128 + "-" + sid + "-1-" + psid, ""},
	{"64 sampled padded", tid64 + "-" + sid + "-1", ""},
	{"64 debug with parent", tid64 + "-" + sid + "-d-" + psid, ""},
	{"64 deferred", tid64 + "-" + sid, ""},
	{"sampling only", "1", ""},
	{"debug only", "d", ""},
	{"trace id only", tid128, ""},
	{"parent without sampling", tid128 + "-" + sid + "-" + psid, ""},
	{"trailing dash", tid128 + "-" + sid + "-", ""},
	{"bad sampling", tid128 + "-" + sid + "-x", ""},
	{"zero parent", tid128 + "-" + sid + "-1-0000000000000000", ""},
	{"zero trace id", "00000000000000000000000000000000-" + sid + "-1", ""},
	{"zero span id", tid128 + "-0000000000000000-1", ""},
	{"upper case", strings.ToUpper(tid128) + "-" + sid + "-1", ""},
	{"separator after the span ID", tid128 + "-" + sid + "x1",
		"every separator must be '-' (Zipkin b3-propagation, Envoy InvalidInput); contrib checks only the first"},
	{"separator before the parent", tid128 + "-" + sid + "-1x" + psid,
		"every separator must be '-' (Envoy InvalidInput 'd!'); contrib does not check it"},
	{"deny only", "0", "a deny without IDs starts a new trace that is not sampled; contrib extracts nothing"},
	{"short span id", tid128 + "-" + sid[:15], ""},
	{"48-bit trace id", tid64[:12] + "-" + sid + "-1", ""},
}

func TestDifferentialB3Single(t *testing.T) {
	p := peers()[propagation.B3]
	for _, tt := range b3SingleInputs {
		t.Run(tt.name, func(t *testing.T) {
			checkPeer(t, p, map[string]string{"b3": tt.v}, tt.differs)
		})
	}
}

var b3MultiInputs = []struct {
	name                                    string
	traceID, spanID, sampled, flags, parent string
	differs                                 string // why kntrace differs from the contrib propagator on purpose
}{
	{name: "128 sampled", traceID: tid128, spanID: sid, sampled: "1"},
	{name: "128 not sampled", traceID: tid128, spanID: sid, sampled: "0"},
	{name: "true", traceID: tid128, spanID: sid, sampled: "true"},
	{name: "FALSE", traceID: tid128, spanID: sid, sampled: "FALSE"},
	{name: "True mixed case", traceID: tid128, spanID: sid, sampled: "TrUe"},
	{name: "deferred", traceID: tid128, spanID: sid},
	{name: "debug", traceID: tid128, spanID: sid, flags: "1"},
	{name: "debug overrides not sampled", traceID: tid128, spanID: sid, sampled: "0", flags: "1"},
	{name: "other flags ignored", traceID: tid128, spanID: sid, sampled: "1", flags: "2"},
	{name: "64 padded", traceID: tid64, spanID: sid, sampled: "1"},
	{name: "with parent", traceID: tid128, spanID: sid, sampled: "1", parent: psid},
	{name: "bad parent", traceID: tid128, spanID: sid, sampled: "1", parent: "xyz"},
	{name: "zero parent", traceID: tid128, spanID: sid, sampled: "1", parent: "0000000000000000",
		differs: "X-B3-ParentSpanId is validated as the Jaeger B3 codecs read it (zero is a root); contrib refuses the context"},
	{name: "short parent", traceID: tid128, spanID: sid, sampled: "1", parent: "0",
		differs: "short X-B3-ParentSpanId tolerated (jaeger-client-java B3TextMapCodecTest); contrib refuses the context"},
	{name: "upper-case parent", traceID: tid128, spanID: sid, sampled: "1", parent: strings.ToUpper(psid),
		differs: "X-B3-ParentSpanId read as jaeger-client-go's B3 codec reads it (either case); contrib refuses the context"},
	{name: "deny only", sampled: "0", differs: "a lone X-B3-Sampled: 0 starts a new trace that is not sampled; contrib extracts nothing"},
	{name: "bad sampled", traceID: tid128, spanID: sid, sampled: "yes"},
	{name: "trace id only", traceID: tid128, sampled: "1"},
	{name: "span id only", spanID: sid, sampled: "1"},
	{name: "sampled only", sampled: "1"},
	{name: "debug only", flags: "1"},
	{name: "debug with bad trace id", traceID: "zz", spanID: sid, flags: "1"},
	{name: "48-bit trace id", traceID: tid64[:12], spanID: sid},
	{name: "upper case span id", traceID: tid128, spanID: strings.ToUpper("00f067aa0ba902bb")},
	{name: "short span id", traceID: tid128, spanID: "f067aa0ba902b7"},
}

func b3MultiKV(traceID, spanID, sampled, flags, parent string) map[string]string {
	kv := map[string]string{}
	for k, v := range map[string]string{
		"X-B3-TraceId": traceID, "X-B3-SpanId": spanID, "X-B3-Sampled": sampled,
		"X-B3-Flags": flags, "X-B3-ParentSpanId": parent,
	} {
		if v != "" {
			kv[k] = v
		}
	}
	return kv
}

func TestDifferentialB3Multi(t *testing.T) {
	p := peers()[propagation.B3Multi]
	for _, tt := range b3MultiInputs {
		t.Run(tt.name, func(t *testing.T) {
			checkPeer(t, p, b3MultiKV(tt.traceID, tt.spanID, tt.sampled, tt.flags, tt.parent), tt.differs)
		})
	}
}

var jaegerInputs = []struct {
	name, v string
	differs string // why kntrace differs from the contrib propagator on purpose
}{
	{"sampled", tid128 + ":" + sid + ":0:1", ""},
	{"not sampled", tid128 + ":" + sid + ":0:0", ""},
	{"debug", tid128 + ":" + sid + ":0:3", ""},
	{"debug without sampled", tid128 + ":" + sid + ":0:2", ""},
	{"firehose ignored", tid128 + ":" + sid + ":0:9", ""},
	{"64-bit padded", tid64 + ":" + sid + ":0:1", ""},
	{"short ids padded", "abc:de:0:1", ""},
	{"parent ignored", tid128 + ":" + sid + ":" + psid + ":1", ""},
	{"empty flags", tid128 + ":" + sid + ":0:", "flags are required (jaeger-client-java TextMapCodecTest); contrib reads none as 0"},
	{"upper case flags", tid128 + ":" + sid + ":0:1F", ""},
	{"signed flags", tid128 + ":" + sid + ":0:-1", "negative flags refused (jaeger-client-python); contrib reads -1 as sampled+debug"},
	{"plus flags", tid128 + ":" + sid + ":0:+3", "flags are hex digits only; contrib accepts a sign"},
	{"flags overflow", tid128 + ":" + sid + ":0:8000000000000000", ""},
	{"flags min int64", tid128 + ":" + sid + ":0:-8000000000000000", "negative flags refused; contrib accepts any int64"},
	{"flags over one byte", tid128 + ":" + sid + ":0:100", "flags are one byte (Jaeger propagation format); contrib accepts any int64"},
	{"flags 255", tid128 + ":" + sid + ":0:255", "read as hex 0x255, over one byte; contrib reads it as 0x255 and samples"},
	{"flags 11", tid128 + ":" + sid + ":0:11", ""},
	{"bad flags", tid128 + ":" + sid + ":0:x", ""},
	{"three parts", tid128 + ":" + sid + ":1", ""},
	{"five parts", tid128 + ":" + sid + ":0:1:1", ""},
	{"empty trace id", ":" + sid + ":0:1", ""},
	{"empty span id", tid128 + "::0:1", ""},
	{"long trace id", "0" + tid128 + ":" + sid + ":0:1", ""},
	{"long span id", tid128 + ":0" + sid + ":0:1", ""},
	{"upper case trace id", strings.ToUpper(tid128) + ":" + sid + ":0:1", "upper-case hex accepted as jaeger-client-go, -python and -node accept it; contrib refuses"},
	{"url encoded", tid128 + "%3A" + sid + "%3A0%3A1", "percent-encoded values decoded (jaeger-client-java testExtractSupportEncodedSpanContext); contrib refuses"},
	{"empty parent", tid128 + ":" + sid + "::1", "the deprecated parent is validated (jaeger-client-java TextMapCodecTest); contrib ignores it"},
	{"non-hex parent", tid128 + ":" + sid + ":xyz:1", "the deprecated parent is validated (jaeger-client-node span_context.js); contrib ignores it"},
	{"long parent", tid128 + ":" + sid + ":0" + psid + ":1", "the deprecated parent is at most 16 hex digits (jaeger-client-go SpanIDFromString); contrib ignores it"},
	{"zero ids", "0:0:0:1", ""},
}

func TestDifferentialJaeger(t *testing.T) {
	p := peers()[propagation.Jaeger]
	for _, tt := range jaegerInputs {
		t.Run(tt.name, func(t *testing.T) {
			checkPeer(t, p, map[string]string{"uber-trace-id": tt.v}, tt.differs)
		})
	}
}

var baggageInputs = []struct {
	name string
	v    string
}{
	{"one", "userId=alice"},
	{"several", "userId=alice,serverNode=DF%2028,isProduction=false"},
	{"properties", "key1=value1;property1;property2=x,key2=value2"},
	{"duplicate last wins", "k=1,k=2"},
	{"invalid member skipped", "good=1,bad key=2,also=3"},
	{"all invalid", "=,,;"},
	{"spaces", " a = 1 , b = 2 "},
	{"percent", "a=%41%42,b=%zz"},
	{"64 members", func() string {
		var s []string
		for i := range 64 {
			s = append(s, "k"+strings.Repeat("x", i)+"=v")
		}
		return strings.Join(s, ",")
	}()},
}

func TestDifferentialBaggage(t *testing.T) {
	p := peers()[propagation.Baggage]
	for _, tt := range baggageInputs {
		t.Run(tt.name, func(t *testing.T) {
			diffPeer(t, p, map[string]string{"baggage": tt.v})
		})
	}
	t.Run("several header values", func(t *testing.T) {
		h := http.Header{"Baggage": {"a=1,b=2", "c=3", "a=4"}}
		kctx := p.kntrace.Extract(context.Background(), otelprop.HeaderCarrier(h))
		octx := p.otel.Extract(context.Background(), otelprop.HeaderCarrier(h))
		if diff := cmp.Diff(bagMap(octx), bagMap(kctx)); diff != "" {
			t.Fatalf("baggage differs (-otel +kntrace):\n%s", diff)
		}
	})
}

// TestInjectDifferential injects span contexts kntrace did not extract
// (no debug or deferred state) with every format and compares with the peer.
func TestInjectDifferential(t *testing.T) {
	ts, err := trace.ParseTraceState("rojo=00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	tid, _ := trace.TraceIDFromHex(tid128)
	sp, _ := trace.SpanIDFromHex(sid)
	bag, err := baggage.Parse("userId=alice,k=v%20w;p")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		scc  trace.SpanContextConfig
	}{
		{name: "sampled", scc: trace.SpanContextConfig{TraceID: tid, SpanID: sp, TraceFlags: trace.FlagsSampled}},
		{name: "not sampled", scc: trace.SpanContextConfig{TraceID: tid, SpanID: sp}},
		{name: "random and tracestate", scc: trace.SpanContextConfig{TraceID: tid, SpanID: sp, TraceFlags: trace.FlagsRandom | trace.FlagsSampled, TraceState: ts}},
	}
	for _, tt := range tests {
		for f, p := range peers() {
			t.Run(tt.name+"/"+f.String(), func(t *testing.T) {
				ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(tt.scc))
				if f == propagation.Baggage {
					ctx = baggage.ContextWithBaggage(ctx, bag)
				}
				for cname, mk := range carriers(nil) {
					kc, oc := mk(), mk()
					p.kntrace.Inject(ctx, kc)
					p.otel.Inject(ctx, oc)
					if diff := cmp.Diff(dumpCarrier(oc), dumpCarrier(kc)); diff != "" {
						t.Errorf("%s carrier: injected headers differ (-otel +kntrace):\n%s", cname, diff)
					}
				}
			})
		}
	}
}

func dumpCarrier(c otelprop.TextMapCarrier) map[string]string {
	out := map[string]string{}
	keys := c.Keys()
	slices.Sort(keys)
	for _, k := range keys {
		k = strings.ToLower(k)
		v := c.Get(k)
		if k == "baggage" {
			// Baggage members come out in map order.
			m := strings.Split(v, ",")
			slices.Sort(m)
			v = strings.Join(m, ",")
		}
		out[k] = v
	}
	return out
}
