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

package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	model "github.com/jaegertracing/jaeger-idl/model/v1"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/backends"
)

func TestInNamespace(t *testing.T) {
	span := func(svc string, ns any) *jaeger.Span {
		s := &jaeger.Span{Service: svc}
		if ns != nil {
			s.ProcessTags = map[string]any{"k8s.namespace.name": ns}
		}
		return s
	}
	tests := []struct {
		name  string
		spans []*jaeger.Span
		want  bool
	}{
		{"service span in the namespace", []*jaeger.Span{span("activator", "knative-serving"), span("hello", "demo")}, true},
		{"service span elsewhere", []*jaeger.Span{span("hello", "other")}, false},
		{"another service in the namespace does not count", []*jaeger.Span{span("activator", "demo"), span("hello", "other")}, false},
		{"no namespace reported: kept", []*jaeger.Span{span("hello", nil)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := inNamespace(&jaeger.Trace{Spans: tc.spans}, "hello", "demo"); got != tc.want {
				t.Errorf("inNamespace = %v, want %v", got, tc.want)
			}
		})
	}
}

// emitter exports spans as one Knative component would, with its own
// resource, to the real Collector.
type emitter struct {
	tp *sdktrace.TracerProvider
	tr trace.Tracer
}

func newEmitter(t *testing.T, ctx context.Context, collector string, attrs ...attribute.KeyValue) *emitter {
	t.Helper()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(collector), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resource.NewSchemaless(attrs...)))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx)
	})
	return &emitter{tp: tp, tr: tp.Tracer("kntrace-test")}
}

// span starts and ends a span at fixed offsets from base.
func (e *emitter) span(ctx context.Context, base time.Time, name string, from, to time.Duration, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx, s := e.tr.Start(ctx, name, trace.WithTimestamp(base.Add(from)), trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	defer s.End(trace.WithTimestamp(base.Add(to)))
	return ctx, s
}

// produceColdStartTrace exports a request that scaled "hello" in namespace
// demo from zero, as kntrace's activator, queue-proxy and app report it: 12
// spans, cold-start phases, one failed database call.
func produceColdStartTrace(t *testing.T, ctx context.Context, collector string, base time.Time) trace.TraceID {
	t.Helper()
	act := newEmitter(t, ctx, collector, semconv.ServiceName("activator"), semconv.K8SNamespaceName("knative-serving"), semconv.K8SContainerName("activator"))
	qp := newEmitter(t, ctx, collector, semconv.ServiceName("hello"), semconv.K8SNamespaceName("demo"), semconv.K8SContainerName("queue-proxy"))
	app := newEmitter(t, ctx, collector, semconv.ServiceName("hello"), semconv.K8SNamespaceName("demo"), semconv.K8SContainerName("user-container"))
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	phase := func(p string) attribute.KeyValue { return attribute.String(coldstart.AttrPhase, p) }
	cold := semconv.FaaSColdstart(true)
	internal := trace.SpanKindInternal

	// Timestamps are explicit: parents are started first and ended last,
	// leaves are started and ended at once by span.
	rctx, root := act.tr.Start(ctx, "GET /", trace.WithTimestamp(base), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(cold, attribute.String("http.route", "/")))
	tctx, throttle := act.tr.Start(rctx, "throttler_try", trace.WithTimestamp(base.Add(ms(1))))
	act.span(tctx, base, coldstart.SpanColdStart+".pod_start", ms(2), ms(700), internal, phase("pod_start"))
	act.span(tctx, base, coldstart.SpanColdStart+".app_init", ms(700), ms(1100), internal, phase("app_init"))
	act.span(tctx, base, coldstart.SpanColdStart+".readiness", ms(1100), ms(1248), internal, phase("readiness"))
	throttle.End(trace.WithTimestamp(base.Add(ms(1250))))
	pctx, proxy := act.tr.Start(rctx, "activator_proxy", trace.WithTimestamp(base.Add(ms(1250))))
	cctx, client := act.tr.Start(pctx, "GET", trace.WithTimestamp(base.Add(ms(1251))), trace.WithSpanKind(trace.SpanKindClient))
	qctx, qserver := qp.tr.Start(cctx, "GET /", trace.WithTimestamp(base.Add(ms(1253))), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(cold))
	xctx, qproxy := qp.tr.Start(qctx, "kn.queueproxy.proxy", trace.WithTimestamp(base.Add(ms(1254))))
	actx, aserver := app.tr.Start(xctx, "GET /", trace.WithTimestamp(base.Add(ms(1256))), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(cold))
	sctx, _ := app.span(actx, base, coldstart.SourceApp.SpanName(), ms(300), ms(1256), internal)
	app.span(sctx, base, coldstart.SourceApp.InitSpanName(), ms(300), ms(1050), internal)
	app.span(sctx, base, coldstart.SourceApp.WaitSpanName(), ms(1050), ms(1256), internal)
	_, db := app.tr.Start(actx, "SELECT orders", trace.WithTimestamp(base.Add(ms(1300))), trace.WithSpanKind(trace.SpanKindClient))
	db.SetStatus(codes.Error, "dial tcp 10.0.0.7:5432: connection refused")
	db.End(trace.WithTimestamp(base.Add(ms(1480))))
	aserver.End(trace.WithTimestamp(base.Add(ms(1510))))
	qproxy.End(trace.WithTimestamp(base.Add(ms(1515))))
	qserver.End(trace.WithTimestamp(base.Add(ms(1516))))
	client.End(trace.WithTimestamp(base.Add(ms(1518))))
	proxy.End(trace.WithTimestamp(base.Add(ms(1519))))
	root.End(trace.WithTimestamp(base.Add(ms(1520))))
	return root.SpanContext().TraceID()
}

// produceWarmTrace exports a request to "hello" in demo that found a pod.
func produceWarmTrace(t *testing.T, ctx context.Context, collector string, base time.Time) trace.TraceID {
	t.Helper()
	qp := newEmitter(t, ctx, collector, semconv.ServiceName("hello"), semconv.K8SNamespaceName("demo"), semconv.K8SContainerName("queue-proxy"))
	qctx, s := qp.tr.Start(ctx, "GET /", trace.WithTimestamp(base), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(semconv.FaaSColdstart(false)))
	qp.span(qctx, base, "kn.queueproxy.proxy", time.Millisecond, 9*time.Millisecond, trace.SpanKindInternal)
	s.End(trace.WithTimestamp(base.Add(10 * time.Millisecond)))
	return s.SpanContext().TraceID()
}

type spanFacts struct {
	Parent, Service, Operation string
	Start                      time.Time
	DurationMicros             int64
}

// factsFromJaeger reads jaeger-idl's own answer.
func factsFromJaeger(tr *model.Trace) map[string]spanFacts {
	out := map[string]spanFacts{}
	for _, s := range tr.Spans {
		f := spanFacts{Operation: s.OperationName, Start: s.StartTime.UTC(), DurationMicros: s.Duration.Microseconds()}
		if s.Process != nil {
			f.Service = s.Process.ServiceName
		}
		for _, r := range s.References {
			if r.RefType == model.SpanRefType_CHILD_OF {
				f.Parent = r.SpanID.String()
			}
		}
		out[s.SpanID.String()] = f
	}
	return out
}

func TestListAndGetAgainstJaeger(t *testing.T) {
	stack := backends.Start(t, true)
	ctx := context.Background()
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	coldID := produceColdStartTrace(t, ctx, stack.Collector.GRPC, base).String()
	warmID := produceWarmTrace(t, ctx, stack.Collector.GRPC, base.Add(5*time.Second)).String()

	c, err := jaeger.Dial(ctx, stack.Jaeger.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rawCold := backends.WaitSpans(t, c, coldID, 14)
	backends.WaitSpans(t, c, warmID, 2)
	addr := []string{"--jaeger", stack.Jaeger.QueryGRPC}

	t.Run("get -o json matches jaeger-idl", func(t *testing.T) {
		code, out, stderr := run(t, append([]string{"get", coldID, "-o", "json"}, addr...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var got jaeger.Trace
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if got.TraceID != coldID || got.SpanCount != len(rawCold.Spans) || len(got.Spans) != len(rawCold.Spans) {
			t.Fatalf("trace %s with %d/%d spans, want %s with %d", got.TraceID, got.SpanCount, len(got.Spans), coldID, len(rawCold.Spans))
		}
		gotFacts := map[string]spanFacts{}
		for _, s := range got.Spans {
			gotFacts[s.SpanID] = spanFacts{Parent: s.ParentSpanID, Service: s.Service, Operation: s.OperationName, Start: s.StartTime, DurationMicros: s.DurationMicros}
		}
		if diff := cmp.Diff(factsFromJaeger(rawCold), gotFacts); diff != "" {
			t.Errorf("spans of kn trace get -o json vs jaeger-idl GetTrace (-jaeger +kn):\n%s", diff)
		}
		if got.DurationMicros != 1520000 || got.Errors != 1 || got.RootService != "activator" {
			t.Errorf("trace = %dµs, %d errors, root %s; want 1520000µs, 1 error, root activator", got.DurationMicros, got.Errors, got.RootService)
		}
		if got.ColdStart == nil || got.ColdStart.Service != "activator" || got.ColdStart.WaitMicros != 1520000 || len(got.ColdStart.Phases) != 3 {
			t.Errorf("cold start = %+v; want the activator's 1.52 s wait and its 3 phases (the app's own cold start is not one of them)", got.ColdStart)
		}
		var errSpan *jaeger.Span
		for _, s := range got.Spans {
			if s.Error {
				errSpan = s
			}
		}
		if errSpan == nil || errSpan.OperationName != "SELECT orders" || errSpan.ErrorMessage != "dial tcp 10.0.0.7:5432: connection refused" {
			t.Errorf("error span = %+v, want SELECT orders with its status description", errSpan)
		}
	})

	t.Run("get draws the waterfall", func(t *testing.T) {
		code, out, stderr := run(t, append([]string{"get", coldID, "--width", "100"}, addr...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"Trace " + coldID, "Cold start: waited 1.52s in activator", "pod_start 698ms", "! ", "SELECT orders: dial tcp"} {
			if !strings.Contains(out, want) {
				t.Errorf("waterfall lacks %q:\n%s", want, out)
			}
		}
		if n := strings.Count(out, "█") + strings.Count(out, "▒"); n == 0 || strings.Contains(out, "\x1b[") {
			t.Errorf("waterfall has no bars or has colour on a non-terminal:\n%s", out)
		}
	})

	t.Run("get -o html", func(t *testing.T) {
		code, out, stderr := run(t, append([]string{"get", coldID, "-o", "html"}, addr...)...)
		if code != ExitOK || !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.Contains(out, coldID) {
			t.Fatalf("exit %d, %d bytes: %s", code, len(out), stderr)
		}
	})

	t.Run("get of an unknown trace", func(t *testing.T) {
		code, _, stderr := run(t, append([]string{"get", "0123456789abcdef0123456789abcdef"}, addr...)...)
		if code != ExitFailure || !strings.Contains(stderr, "trace not found") {
			t.Errorf("exit %d, stderr %q; want 1 and trace not found", code, stderr)
		}
	})

	list := func(t *testing.T, args ...string) []jaeger.Summary {
		t.Helper()
		code, out, stderr := run(t, append(append([]string{"list"}, args...), append(addr, "-o", "json")...)...)
		if code != ExitOK {
			t.Fatalf("list %v: exit %d: %s", args, code, stderr)
		}
		var got []jaeger.Summary
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	ids := func(ss []jaeger.Summary) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.TraceID)
		}
		return out
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"newest first", []string{"hello"}, []string{warmID, coldID}},
		{"cold starts only", []string{"hello", "--coldstart"}, []string{coldID}},
		{"namespace of the service's spans", []string{"hello", "-n", "demo"}, []string{warmID, coldID}},
		{"other namespace", []string{"hello", "-n", "prod"}, nil},
		{"the activator's raw service name", []string{"activator"}, []string{coldID}},
		{"limit", []string{"hello", "--limit", "1"}, []string{warmID}},
		{"since excludes older traces", []string{"hello", "--since", "10s"}, nil},
	}
	for _, tc := range tests {
		t.Run("list "+tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ids(list(t, tc.args...))); diff != "" {
				t.Errorf("trace IDs (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("list table", func(t *testing.T) {
		code, out, stderr := run(t, append([]string{"list", "hello"}, addr...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "TRACE ID") {
			t.Fatalf("table:\n%s", out)
		}
		cold := lines[slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, coldID) })]
		for _, want := range []string{"1.52s", "14", "waited 1.52s", "activator GET /"} {
			if !strings.Contains(cold, want) {
				t.Errorf("row %q lacks %q", cold, want)
			}
		}
		if !strings.HasSuffix(strings.TrimSpace(cold), "1") {
			t.Errorf("row %q: want 1 error at the end", cold)
		}
	})

	t.Run("list of an unknown service names the known ones", func(t *testing.T) {
		code, _, stderr := run(t, append([]string{"list", "nope"}, addr...)...)
		if code != ExitFailure || !strings.Contains(stderr, `no spans of service "nope"`) || !strings.Contains(stderr, "activator, hello") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}
