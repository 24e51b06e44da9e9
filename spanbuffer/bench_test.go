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

package spanbuffer

import (
	"context"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/internal/selfusage"
)

// discardExporter is the fast in-memory exporter both processors share.
type discardExporter struct{ n atomic.Int64 }

func (d *discardExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	d.n.Add(int64(len(spans)))
	return nil
}

func (d *discardExporter) Shutdown(context.Context) error { return nil }

// BenchmarkSpanProcessor is the per-span cost (start, attributes, end,
// processing) with kntrace's buffer and with the SDK's batch span processor,
// both with default settings in front of the same exporter.
func BenchmarkSpanProcessor(b *testing.B) {
	cases := []struct {
		name string
		proc func(sdktrace.SpanExporter) sdktrace.SpanProcessor
	}{
		{"kntrace", func(e sdktrace.SpanExporter) sdktrace.SpanProcessor {
			return New(e, WithLogger(quiet), WithEnv(func(string) string { return "" }))
		}},
		{"batch", func(e sdktrace.SpanExporter) sdktrace.SpanProcessor { return sdktrace.NewBatchSpanProcessor(e) }},
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", "GET"),
		attribute.String("url.path", "/api/v1/items"),
		attribute.Int("http.response.status_code", 200),
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			exp := &discardExporter{}
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(c.proc(exp)))
			tr := tp.Tracer("bench")
			ctx := context.Background()
			b.ReportAllocs()
			cpu := selfusage.CPUTime()
			for b.Loop() {
				_, s := tr.Start(ctx, "GET /api/v1/items", trace.WithAttributes(attrs...))
				s.End()
			}
			_ = tp.Shutdown(ctx) // the background export is part of the cost
			b.StopTimer()
			b.ReportMetric(float64(selfusage.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(exp.n.Load())/float64(b.N), "exported/span")
		})
	}
}

// BenchmarkOnEnd is the processors' own cost per span: OnEnd with one
// finished span, the span's creation left out.
func BenchmarkOnEnd(b *testing.B) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, s := tp.Tracer("bench").Start(context.Background(), "GET /api/v1/items", trace.WithAttributes(
		attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200)))
	s.End()
	span := rec.Ended()[0]
	cases := []struct {
		name string
		proc func(sdktrace.SpanExporter) sdktrace.SpanProcessor
	}{
		{"kntrace", func(e sdktrace.SpanExporter) sdktrace.SpanProcessor {
			return New(e, WithLogger(quiet), WithEnv(func(string) string { return "" }))
		}},
		{"batch", func(e sdktrace.SpanExporter) sdktrace.SpanProcessor { return sdktrace.NewBatchSpanProcessor(e) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			exp := &discardExporter{}
			p := c.proc(exp)
			b.ReportAllocs()
			cpu := selfusage.CPUTime()
			for b.Loop() {
				p.OnEnd(span)
			}
			_ = p.Shutdown(context.Background())
			b.StopTimer()
			b.ReportMetric(float64(selfusage.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(exp.n.Load())/float64(b.N), "exported/span")
		})
	}
}
