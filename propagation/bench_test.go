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
	"testing"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel/baggage"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

// Benchmarks pair kntrace with what a user would otherwise run, in the same
// run: BenchmarkExtract/<case>/kntrace against BenchmarkExtract/<case>/otel
// (likewise Inject). "otel" is propagation.NewCompositeTextMapPropagator of
// the same formats, or propagation.TraceContext{} for w3c-only.
//
//	go test -run '^$' -bench . -count 6 ./propagation/ | benchstat -col /impl -
//
// (or compare the kntrace and otel rows by name).

var allFormats = []propagation.Format{propagation.TraceContext, propagation.Baggage, propagation.B3, propagation.B3Multi, propagation.Jaeger}

func otelComposite() otelprop.TextMapPropagator {
	return otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{}, otelprop.Baggage{},
		b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)), b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)), jaeger.Jaeger{})
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

var (
	benchW3C     = []string{"traceparent", "00-" + tid128 + "-" + sid + "-01"}
	benchB3      = []string{"b3", tid128 + "-" + sid + "-1"}
	benchB3Multi = []string{"X-B3-TraceId", tid128, "X-B3-SpanId", sid, "X-B3-Sampled", "1", "X-B3-ParentSpanId", psid}
	benchJaeger  = []string{"uber-trace-id", tid128 + ":" + sid + ":0:1"}
	benchBaggage = []string{"baggage", "userId=alice,tenant=acme"}
)

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func BenchmarkExtract(b *testing.B) {
	kn, composite := propagation.New(propagation.WithFormats(allFormats...)), otelComposite()
	w3cOnly := propagation.New(propagation.WithFormats(propagation.TraceContext))
	cases := []struct {
		name    string
		headers []string
		kntrace otelprop.TextMapPropagator
		otel    otelprop.TextMapPropagator
	}{
		{"w3c-only", benchW3C, w3cOnly, otelprop.TraceContext{}},
		{"w3c", benchW3C, kn, composite},
		{"b3single", benchB3, kn, composite},
		{"b3multi", benchB3Multi, kn, composite},
		{"jaeger", benchJaeger, kn, composite},
		{"w3c+b3multi", cat(benchW3C, benchB3Multi), kn, composite},
		{"all", cat(benchW3C, benchBaggage, benchB3, benchB3Multi, benchJaeger), kn, composite},
	}
	for _, c := range cases {
		h := otelprop.HeaderCarrier(header(c.headers...))
		for _, impl := range []struct {
			name string
			p    otelprop.TextMapPropagator
		}{{"kntrace", c.kntrace}, {"otel", c.otel}} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				ctx := context.Background()
				if !trace.SpanContextFromContext(impl.p.Extract(ctx, h)).IsValid() {
					b.Fatal("no span context extracted")
				}
				b.ReportAllocs()
				for b.Loop() {
					_ = impl.p.Extract(ctx, h)
				}
			})
		}
	}
}

func BenchmarkInject(b *testing.B) {
	tid, _ := trace.TraceIDFromHex(tid128)
	sp, _ := trace.SpanIDFromHex(sid)
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sp, TraceFlags: trace.FlagsSampled}))
	bag, _ := baggage.Parse("userId=alice,tenant=acme")
	bagCtx := baggage.ContextWithBaggage(ctx, bag)
	f := func(fs ...propagation.Format) otelprop.TextMapPropagator {
		return propagation.New(propagation.WithFormats(fs...))
	}
	cases := []struct {
		name    string
		ctx     context.Context
		kntrace otelprop.TextMapPropagator
		otel    otelprop.TextMapPropagator
	}{
		{"w3c-only", ctx, f(propagation.TraceContext), otelprop.TraceContext{}},
		{"w3c", ctx, f(propagation.TraceContext), otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{})},
		{"b3single", ctx, f(propagation.B3), otelprop.NewCompositeTextMapPropagator(b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)))},
		{"b3multi", ctx, f(propagation.B3Multi), otelprop.NewCompositeTextMapPropagator(b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)))},
		{"jaeger", ctx, f(propagation.Jaeger), otelprop.NewCompositeTextMapPropagator(jaeger.Jaeger{})},
		{"w3c+b3multi", ctx, f(propagation.TraceContext, propagation.B3Multi),
			otelprop.NewCompositeTextMapPropagator(otelprop.TraceContext{}, b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)))},
		{"all", bagCtx, f(propagation.TraceContext, propagation.Baggage, propagation.B3, propagation.B3Multi), otelprop.NewCompositeTextMapPropagator(
			otelprop.TraceContext{}, otelprop.Baggage{}, b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)), b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)))},
		{"all+jaeger", ctx, f(allFormats...), otelComposite()},
	}
	for _, c := range cases {
		for _, impl := range []struct {
			name string
			p    otelprop.TextMapPropagator
		}{{"kntrace", c.kntrace}, {"otel", c.otel}} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				h := http.Header{}
				impl.p.Inject(c.ctx, otelprop.HeaderCarrier(h))
				if len(h) == 0 {
					b.Fatal("nothing injected")
				}
				b.ReportAllocs()
				for b.Loop() {
					clear(h)
					impl.p.Inject(c.ctx, otelprop.HeaderCarrier(h))
				}
			})
		}
	}
}
