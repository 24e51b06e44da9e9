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
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel/baggage"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

// TestStaleB3BehindKnativeHop reproduces an upstream Knative hop, which
// propagates W3C tracecontext and baggage only: it continues the client's
// traceparent with its own span and forwards the client's X-B3-* headers
// untouched. The next hop must parent to the Knative hop's span. The
// OpenTelemetry composite lets the last valid format win and picks the stale
// B3 client span; kntrace takes W3C first and keeps the hop in the trace.
func TestStaleB3BehindKnativeHop(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	// The client (an Istio ingress, say) writes both W3C and B3.
	clientCtx, client := tp.Tracer("client").Start(context.Background(), "client")
	h := http.Header{}
	otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{}, b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader))).
		Inject(clientCtx, otelprop.HeaderCarrier(h))
	client.End()

	// The upstream Knative hop: W3C only, everything else forwarded.
	knative := otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{}, otelprop.Baggage{})
	hopCtx, hop := tp.Tracer("activator").Start(knative.Extract(context.Background(), otelprop.HeaderCarrier(h)), "activator")
	forwarded := h.Clone()
	knative.Inject(hopCtx, otelprop.HeaderCarrier(forwarded))
	hop.End()

	if forwarded.Get("X-B3-SpanId") != client.SpanContext().SpanID().String() {
		t.Fatalf("the hop should forward the client's B3 span ID, got %q", forwarded.Get("X-B3-SpanId"))
	}

	composite := otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{}, otelprop.Baggage{},
		b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)), b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)), jaeger.Jaeger{})
	tests := []struct {
		name string
		p    otelprop.TextMapPropagator
		want trace.SpanID
	}{
		{name: "otel composite picks the stale client span", p: composite, want: client.SpanContext().SpanID()},
		{name: "kntrace picks the Knative hop", p: propagation.New(), want: hop.SpanContext().SpanID()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := trace.SpanContextFromContext(tt.p.Extract(context.Background(), otelprop.HeaderCarrier(forwarded)))
			if got.SpanID() != tt.want {
				t.Fatalf("parent span = %s, want %s (client %s, hop %s)", got.SpanID(), tt.want,
					client.SpanContext().SpanID(), hop.SpanContext().SpanID())
			}
		})
	}
}

const (
	w3cSpan    = "1111111111111111"
	b3Span     = "2222222222222222"
	b3mSpan    = "3333333333333333"
	jaegerSpan = "4444444444444444"
	ceSpan     = "5555555555555555"
)

func TestExtractPrecedence(t *testing.T) {
	all := map[string]string{
		"traceparent":    "00-" + tid128 + "-" + w3cSpan + "-01",
		"b3":             tid128 + "-" + b3Span + "-1",
		"x-b3-traceid":   tid128,
		"x-b3-spanid":    b3mSpan,
		"uber-trace-id":  tid128 + ":" + jaegerSpan + ":0:1",
		"ce-traceparent": "00-" + tid128 + "-" + ceSpan + "-01",
	}
	without := func(keys ...string) map[string]string {
		out := map[string]string{}
		for k, v := range all {
			out[k] = v
		}
		for _, k := range keys {
			delete(out, k)
		}
		return out
	}
	with := func(k, v string) map[string]string {
		out := without()
		out[k] = v
		return out
	}
	tests := []struct {
		name    string
		opts    []propagation.Option
		carrier map[string]string
		want    string // span ID, "" for none
	}{
		{name: "default: W3C first", carrier: all, want: w3cSpan},
		{name: "default: B3 single next", carrier: without("traceparent"), want: b3Span},
		{name: "default: B3 multi next", carrier: without("traceparent", "b3"), want: b3mSpan},
		{name: "default: Jaeger next", carrier: without("traceparent", "b3", "x-b3-traceid"), want: jaegerSpan},
		{name: "default: CloudEvents last", carrier: without("traceparent", "b3", "x-b3-traceid", "uber-trace-id"), want: ceSpan},
		{name: "malformed W3C skipped", carrier: with("traceparent", "00-"+tid128+"-"+w3cSpan+"-zz"), want: b3Span},
		{name: "malformed B3 skipped whole", carrier: without("traceparent", "x-b3-traceid"), opts: []propagation.Option{
			propagation.WithExtractOrder(propagation.B3, propagation.Jaeger)}, want: b3Span},
		{name: "custom order: Jaeger first", carrier: all, opts: []propagation.Option{
			propagation.WithExtractOrder(propagation.Jaeger, propagation.TraceContext)}, want: jaegerSpan},
		{name: "formats limit extraction", carrier: without("traceparent"), opts: []propagation.Option{
			propagation.WithFormats(propagation.TraceContext, propagation.Jaeger)}, want: jaegerSpan},
		{name: "b3 extracts the multi headers too", carrier: without("traceparent", "b3"), opts: []propagation.Option{
			propagation.WithFormats(propagation.B3)}, want: b3mSpan},
		{name: "none extracts nothing", carrier: all, opts: []propagation.Option{propagation.WithFormats()}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for cname, mk := range carriers(tt.carrier) {
				got := trace.SpanContextFromContext(propagation.New(tt.opts...).Extract(context.Background(), mk()))
				gotID := ""
				if got.IsValid() {
					gotID = got.SpanID().String()
					if !got.IsRemote() {
						t.Errorf("%s: span context not remote", cname)
					}
				}
				if gotID != tt.want {
					t.Errorf("%s carrier: span ID = %q, want %q", cname, gotID, tt.want)
				}
			}
		})
	}
}

// TestSamplingStateAcrossFormats extracts one format and injects all of
// them: debug, sampled and deferred map faithfully.
func TestSamplingStateAcrossFormats(t *testing.T) {
	p := propagation.New(propagation.WithFormats(propagation.TraceContext, propagation.B3, propagation.B3Multi, propagation.Jaeger))
	tests := []struct {
		name string
		in   map[string]string
		want map[string]string
	}{
		{
			name: "B3 debug",
			in:   map[string]string{"b3": tid64 + "-" + sid + "-d"},
			want: map[string]string{
				"traceparent":  "00-0000000000000000" + tid64 + "-" + sid + "-01",
				"b3":           "0000000000000000" + tid64 + "-" + sid + "-d",
				"x-b3-traceid": "0000000000000000" + tid64, "x-b3-spanid": sid, "x-b3-flags": "1",
				"uber-trace-id": "0000000000000000" + tid64 + ":" + sid + ":0:3",
			},
		},
		{
			name: "Jaeger debug",
			in:   map[string]string{"uber-trace-id": tid128 + ":" + sid + ":0:3"},
			want: map[string]string{
				"traceparent":  "00-" + tid128 + "-" + sid + "-01",
				"b3":           tid128 + "-" + sid + "-d",
				"x-b3-traceid": tid128, "x-b3-spanid": sid, "x-b3-flags": "1",
				"uber-trace-id": tid128 + ":" + sid + ":0:3",
			},
		},
		{
			name: "X-B3-Flags debug",
			in:   map[string]string{"x-b3-traceid": tid128, "x-b3-spanid": sid, "x-b3-flags": "1"},
			want: map[string]string{
				"traceparent":  "00-" + tid128 + "-" + sid + "-01",
				"b3":           tid128 + "-" + sid + "-d",
				"x-b3-traceid": tid128, "x-b3-spanid": sid, "x-b3-flags": "1",
				"uber-trace-id": tid128 + ":" + sid + ":0:3",
			},
		},
		{
			name: "B3 deferred",
			in:   map[string]string{"x-b3-traceid": tid128, "x-b3-spanid": sid},
			want: map[string]string{
				"traceparent":  "00-" + tid128 + "-" + sid + "-00",
				"b3":           tid128 + "-" + sid,
				"x-b3-traceid": tid128, "x-b3-spanid": sid,
				"uber-trace-id": tid128 + ":" + sid + ":0:0",
			},
		},
		{
			name: "W3C sampled",
			in:   map[string]string{"traceparent": "00-" + tid128 + "-" + sid + "-01"},
			want: map[string]string{
				"traceparent":  "00-" + tid128 + "-" + sid + "-01",
				"b3":           tid128 + "-" + sid + "-1",
				"x-b3-traceid": tid128, "x-b3-spanid": sid, "x-b3-sampled": "1",
				"uber-trace-id": tid128 + ":" + sid + ":0:1",
			},
		},
		{
			name: "W3C not sampled clears an outer debug flag",
			in:   map[string]string{"traceparent": "00-" + tid128 + "-" + sid + "-00"},
			want: map[string]string{
				"traceparent":  "00-" + tid128 + "-" + sid + "-00",
				"b3":           tid128 + "-" + sid + "-0",
				"x-b3-traceid": tid128, "x-b3-spanid": sid, "x-b3-sampled": "0",
				"uber-trace-id": tid128 + ":" + sid + ":0:0",
			},
		},
	}
	// An outer extraction left debug on the context.
	outer := p.Extract(context.Background(), otelprop.MapCarrier{"b3": tid128 + "-" + psid + "-d"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := p.Extract(outer, otelprop.MapCarrier(tt.in))
			got := otelprop.MapCarrier{}
			p.Inject(ctx, got)
			if diff := cmp.Diff(tt.want, map[string]string(got)); diff != "" {
				t.Fatalf("injected (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeliberateDifferences pins where kntrace differs from the contrib B3
// propagator on purpose (see the package documentation).
func TestDeliberateDifferences(t *testing.T) {
	p := propagation.New(propagation.WithFormats(propagation.B3, propagation.B3Multi, propagation.Jaeger))
	t.Run("nothing injected without a span context", func(t *testing.T) {
		c := otelprop.MapCarrier{}
		p.Inject(context.Background(), c)
		if len(c) != 0 {
			t.Fatalf("injected %v", c)
		}
		peer := otelprop.MapCarrier{}
		b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)).Inject(context.Background(), peer)
		if peer["b3"] != "0" {
			t.Fatalf("contrib b3 changed: now injects %v without a span context", peer)
		}
	})
	tests := []struct {
		name string
		in   map[string]string
		want propagation.Decision
	}{
		{name: "b3 debug without IDs is recorded", in: map[string]string{"b3": "d"}, want: propagation.Debug},
		{name: "lone X-B3-Flags debug is recorded", in: map[string]string{"x-b3-flags": "1"}, want: propagation.Debug},
		{name: "nothing from a malformed X-B3-* set", in: map[string]string{"x-b3-flags": "1", "x-b3-traceid": "not-hex", "x-b3-spanid": sid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := p.Extract(context.Background(), otelprop.MapCarrier(tt.in))
			if got := propagation.SamplingOnly(ctx); got != tt.want {
				t.Errorf("SamplingOnly = %v, want %v", got, tt.want)
			}
			if got := propagation.IsDebug(ctx); got != (tt.want == propagation.Debug) {
				t.Errorf("IsDebug = %v", got)
			}
			if trace.SpanContextFromContext(ctx).IsValid() {
				t.Errorf("a span context was extracted from %v", tt.in)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []propagation.Format
		wantErr string
	}{
		{name: "empty is the default", in: "", want: []propagation.Format{propagation.TraceContext, propagation.Baggage}},
		{name: "blank is the default", in: " , ", want: []propagation.Format{propagation.TraceContext, propagation.Baggage}},
		{name: "none", in: "none", want: []propagation.Format{}},
		{name: "none beside others is ignored", in: "none,b3", want: []propagation.Format{propagation.B3}},
		{name: "all", in: "tracecontext,baggage,b3,b3multi,jaeger", want: []propagation.Format{
			propagation.TraceContext, propagation.Baggage, propagation.B3, propagation.B3Multi, propagation.Jaeger}},
		{name: "whitespace and case", in: "  B3Multi ,\tTraceContext ", want: []propagation.Format{propagation.B3Multi, propagation.TraceContext}},
		{name: "duplicates", in: "b3,b3", want: []propagation.Format{propagation.B3}},
		{name: "unknown", in: "tracecontext,zipkin", wantErr: `unknown propagator "zipkin" (accepted: tracecontext, baggage, b3, b3multi, jaeger, none)`},
		{name: "spec value kntrace lacks", in: "xray", wantErr: `unknown propagator "xray": defined by OpenTelemetry but not supported by kntrace (accepted: tracecontext, baggage, b3, b3multi, jaeger, none)`},
		{name: "cloudevents is not an OTEL_PROPAGATORS value", in: "cloudevents", wantErr: `unknown propagator "cloudevents"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := propagation.ParseList(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, propagation.ErrUnknownPropagator) {
					t.Fatalf("ParseList(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("ParseList(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name        string
		env         string
		wantInject  []propagation.Format
		wantExtract []propagation.Format
		wantFields  []string
		wantErr     string
	}{
		{name: "unset", wantInject: []propagation.Format{propagation.TraceContext, propagation.Baggage},
			wantExtract: []propagation.Format{propagation.TraceContext, propagation.Baggage},
			wantFields:  []string{"traceparent", "tracestate", "baggage"}},
		{name: "b3multi and jaeger", env: "jaeger, b3multi",
			wantInject:  []propagation.Format{propagation.Jaeger, propagation.B3Multi},
			wantExtract: []propagation.Format{propagation.B3, propagation.B3Multi, propagation.Jaeger},
			wantFields:  []string{"uber-trace-id", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"}},
		{name: "none", env: "none", wantInject: nil, wantExtract: nil, wantFields: nil},
		{name: "bad", env: "w3c", wantErr: `OTEL_PROPAGATORS: unknown propagator "w3c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_PROPAGATORS", tt.env)
			p, err := propagation.FromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantInject, p.InjectFormats()); diff != "" {
				t.Errorf("inject (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantExtract, p.ExtractOrder()); diff != "" {
				t.Errorf("extract (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFields, p.Fields()); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	p := propagation.New()
	if diff := cmp.Diff(propagation.DefaultFormats(), p.InjectFormats()); diff != "" {
		t.Errorf("inject (-want +got):\n%s", diff)
	}
	want := []propagation.Format{propagation.TraceContext, propagation.B3, propagation.B3Multi, propagation.Jaeger, propagation.CloudEvents, propagation.Baggage}
	if diff := cmp.Diff(want, p.ExtractOrder()); diff != "" {
		t.Errorf("extract (-want +got):\n%s", diff)
	}
	if got := propagation.New(propagation.WithFormats(propagation.CloudEvents, propagation.B3, propagation.B3)).InjectFormats(); !cmp.Equal(got, []propagation.Format{propagation.B3}) {
		t.Errorf("CloudEvents is read only and duplicates are dropped; inject = %v", got)
	}
}

func TestBaggageLimits(t *testing.T) {
	member := func(i int) string { return fmt.Sprintf("k%04d=%s", i, strings.Repeat("v", 200)) }
	var long []string
	for i := range 100 {
		long = append(long, member(i))
	}
	var many []string
	for i := range 200 {
		many = append(many, "m"+strconv.Itoa(i)+"=1")
	}
	tests := []struct {
		name        string
		header      string
		wantMembers int
		wantFirst   string
	}{
		{name: "over 8192 bytes keeps the leading members", header: strings.Join(long, ","), wantMembers: 39 /* 206-byte members and commas */, wantFirst: "k0000"},
		{name: "over 64 members keeps the first 64", header: strings.Join(many, ","), wantMembers: 64, wantFirst: "m0"},
	}
	p := propagation.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := p.Extract(context.Background(), otelprop.MapCarrier{"baggage": tt.header})
			bag := baggage.FromContext(ctx)
			if bag.Len() != tt.wantMembers || bag.Member(tt.wantFirst).Key() == "" {
				t.Fatalf("got %d members (first %q present: %v), want %d", bag.Len(), tt.wantFirst, bag.Member(tt.wantFirst).Key() != "", tt.wantMembers)
			}
			checkBaggageLimits(t, bag)
		})
	}
}

func TestUberctxBaggage(t *testing.T) {
	h := http.Header{}
	h.Set("uber-trace-id", tid128+":"+sid+":0:1")
	h.Set("uberctx-user-id", "alice%20smith")
	h.Set("uberctx-tenant", "jaeger")
	h.Set("baggage", "tenant=w3c")
	tests := []struct {
		name string
		opts []propagation.Option
		in   http.Header
		want map[string]string
	}{
		{name: "Jaeger wins: uberctx read, W3C wins on conflict", in: h,
			want: map[string]string{"user-id": "user-id=alice%20smith", "tenant": "tenant=w3c"}},
		{name: "W3C wins: uberctx ignored", in: func() http.Header {
			c := h.Clone()
			c.Set("traceparent", "00-"+tid128+"-"+sid+"-01")
			return c
		}(), want: map[string]string{"tenant": "tenant=w3c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := propagation.New(tt.opts...).Extract(context.Background(), otelprop.HeaderCarrier(tt.in))
			if diff := cmp.Diff(tt.want, bagMap(ctx)); diff != "" {
				t.Fatalf("baggage (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("inject writes uberctx", func(t *testing.T) {
		p := propagation.New(propagation.WithFormats(propagation.Jaeger))
		ctx := p.Extract(context.Background(), otelprop.HeaderCarrier(h))
		out := http.Header{}
		p.Inject(ctx, otelprop.HeaderCarrier(out))
		if got := out.Get("uberctx-user-id"); got != "alice%20smith" {
			t.Fatalf("uberctx-user-id = %q", got)
		}
	})
}
