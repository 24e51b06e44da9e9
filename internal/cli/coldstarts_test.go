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
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/internal/golden"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/jaeger/jaegertest"
	"github.com/kntrace/kntrace/test/backends"
)

// The output of kn trace coldstarts for the hour of jaegertest.Window, in
// each format.
func TestColdStartsGolden(t *testing.T) {
	traces, err := jaeger.BuildAll(jaegertest.Traces(jaegertest.Window()))
	if err != nil {
		t.Fatal(err)
	}
	from, to := jaegertest.Start, jaegertest.Start.Add(time.Hour)
	hello := jaeger.ColdStartFilter{Service: "hello", Namespace: "demo", From: from, To: to}
	tests := []struct {
		name   string
		file   string
		format outputFormat
		filter jaeger.ColdStartFilter
		limit  int
	}{
		{"text", "coldstarts-hello.golden", "", hello, 20},
		{"json", "coldstarts-hello-json.golden", "json", hello, 20},
		{"yaml", "coldstarts-hello-yaml.golden", "yaml", hello, 20},
		{"every Service, the newest two", "coldstarts-all-limit-2.golden", "", jaeger.ColdStartFilter{From: from, To: to}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeColdStarts(&b, tc.format, jaeger.NewColdStartReport(traces, tc.filter, tc.limit), time.UTC); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tc.file, b.Bytes())
		})
	}
}

func TestWindowFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		str     string
		wantErr bool
	}{
		{in: "30m", want: 30 * time.Minute, str: "30m"},
		{in: "1h", want: time.Hour, str: "1h"},
		{in: "2h30m", want: 150 * time.Minute, str: "2h30m"},
		{in: "90s", want: 90 * time.Second, str: "1m30s"},
		{in: "1d", want: 24 * time.Hour, str: "1d"},
		{in: "1d12h", want: 36 * time.Hour, str: "36h"},
		{in: "7d", want: 7 * 24 * time.Hour, str: "7d"},
		{in: "0", wantErr: true},
		{in: "-1h", wantErr: true},
		{in: "1x", wantErr: true},
		{in: "d", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var w windowFlag
			err := w.Set(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Errorf("Set(%q) = %v, want an error", tc.in, time.Duration(w))
				}
				return
			}
			if err != nil || time.Duration(w) != tc.want || w.String() != tc.str {
				t.Errorf("Set(%q) = %v (%q), %v; want %v (%q)", tc.in, time.Duration(w), w.String(), err, tc.want, tc.str)
			}
		})
	}
}

// produceColdStartEpisode exports, as kntrace's activator records them, a
// request to "hello" in demo that woke revision hello-00001 (Kubernetes
// phases, image present), a request that joined it, and one from an
// unsampled caller that joined it (a trace of its own linked to the
// caller's and to the leader). It returns the three trace IDs.
func produceColdStartEpisode(t *testing.T, ctx context.Context, collector string, base time.Time) (leader, follower, unsampled trace.TraceID) {
	t.Helper()
	act := newEmitter(t, ctx, collector, semconv.ServiceName(jaeger.ActivatorService), semconv.K8SNamespaceName("knative-serving"), semconv.K8SContainerName("activator"))
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	revision := []attribute.KeyValue{semconv.FaaSName("hello"), semconv.FaaSVersion("hello-00001"), semconv.K8SNamespaceName("demo")}
	cold := semconv.FaaSColdstart(true)
	internal := trace.SpanKindInternal

	rctx, root := act.tr.Start(ctx, "GET /", trace.WithTimestamp(base), trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(cold))
	act.span(rctx, base, "throttler_try", ms(0), ms(1817), internal, revision...)
	kctx, kube := act.tr.Start(rctx, coldstart.SpanKubernetes, trace.WithTimestamp(base))
	at := 0
	for _, p := range []struct {
		name, source string
		ms           int
	}{
		{coldstart.PhaseScheduling, coldstart.PhaseSourceAPIServer, 12},
		{coldstart.PhaseSandbox, coldstart.PhaseSourceKubelet, 310},
		{coldstart.PhaseImage, coldstart.PhaseSourceKubelet, 0},
		{coldstart.PhaseContainers, coldstart.PhaseSourceKubelet, 95},
		{coldstart.PhaseAppInit, coldstart.PhaseSourceQueueProxy, 640},
		{coldstart.PhaseReadiness, coldstart.PhaseSourceKubelet, 700},
		{coldstart.PhaseEndpoints, coldstart.PhaseSourceActivator, 60},
		{coldstart.PhaseProxy, coldstart.PhaseSourceActivator, 23},
	} {
		attrs := append([]attribute.KeyValue{attribute.String(coldstart.AttrPhase, p.name), attribute.String(coldstart.AttrSource, p.source)}, revision...)
		if p.name == coldstart.PhaseImage {
			attrs = append(attrs, attribute.String(coldstart.AttrImage, coldstart.ImagePresent))
		}
		act.span(kctx, base, coldstart.SpanPhasePrefix+p.name, ms(at), ms(at+p.ms), internal, attrs...)
		at += p.ms
	}
	kube.End(trace.WithTimestamp(base.Add(ms(at))))
	root.End(trace.WithTimestamp(base.Add(ms(at + 5))))

	follows := trace.Link{SpanContext: root.SpanContext(), Attributes: []attribute.KeyValue{attribute.String(coldstart.AttrRole, coldstart.RoleFollower)}}
	fctx, f := act.tr.Start(ctx, "GET /", trace.WithTimestamp(base.Add(ms(200))), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(cold), trace.WithLinks(follows))
	act.span(fctx, base, "throttler_try", ms(200), ms(1817), internal, revision...)
	f.End(trace.WithTimestamp(base.Add(ms(1900))))

	caller := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xca, 0x11}, SpanID: trace.SpanID{0x99}})
	_, u := act.tr.Start(ctx, coldstart.SpanUnsampledWait, trace.WithTimestamp(base.Add(ms(300))), trace.WithAttributes(cold),
		trace.WithLinks(trace.Link{SpanContext: caller}, follows))
	u.End(trace.WithTimestamp(base.Add(ms(1840))))
	return root.SpanContext().TraceID(), f.SpanContext().TraceID(), u.SpanContext().TraceID()
}

// kn trace coldstarts against the real Collector and Jaeger: Jaeger's tag
// search finds the marked spans, the links survive (without their
// attributes) and the output says what the activator recorded.
func TestColdStartsAgainstJaeger(t *testing.T) {
	stack := backends.Start(t, true)
	ctx := context.Background()
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	leader, follower, unsampled := produceColdStartEpisode(t, ctx, stack.Collector.GRPC, base)
	warm := produceWarmTrace(t, ctx, stack.Collector.GRPC, base.Add(5*time.Second))

	c, err := jaeger.Dial(ctx, stack.Jaeger.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	backends.WaitSpans(t, c, leader.String(), 11)
	backends.WaitSpans(t, c, follower.String(), 2)
	backends.WaitSpans(t, c, unsampled.String(), 1)
	backends.WaitSpans(t, c, warm.String(), 2)
	addr := []string{"--jaeger", stack.Jaeger.QueryGRPC}

	t.Run("json", func(t *testing.T) {
		code, out, stderr := run(t, append([]string{"coldstarts", "hello", "-n", "demo", "-o", "json"}, addr...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r jaeger.ColdStartReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Count != 1 || len(r.ColdStarts) != 1 {
			t.Fatalf("%d cold starts, want 1:\n%s", r.Count, out)
		}
		e := r.ColdStarts[0]
		if e.TraceID != leader.String() || e.Revision != "hello-00001" || !e.Kubernetes || e.TotalMicros != 1840000 || len(e.Phases) != 8 {
			t.Errorf("cold start %s of %s, kubernetes %v, %dµs, %d phases; want %s of hello-00001, kubernetes, 1840000µs, 8 phases",
				e.TraceID, e.Revision, e.Kubernetes, e.TotalMicros, len(e.Phases), leader)
		}
		var joined []string
		for _, j := range e.Joined {
			joined = append(joined, j.TraceID)
		}
		if diff := cmp.Diff([]string{follower.String(), unsampled.String()}, joined); diff != "" {
			t.Errorf("joined requests (-want +got):\n%s", diff)
		}
		if len(r.Unmatched) != 0 {
			t.Errorf("unmatched = %+v, want none", r.Unmatched)
		}
	})

	t.Run("text", func(t *testing.T) {
		code, out, stderr := run(t, append([]string{"coldstarts", "hello"}, addr...)...)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		want := leader.String() + "  cold start 1.84 s: scheduling 12 ms, sandbox 310 ms, image 0 ms (present), containers 95 ms, app init 640 ms, readiness 700 ms, endpoints 60 ms, proxy 23 ms\n"
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	})

	t.Run("a Service without cold starts", func(t *testing.T) {
		code, out, stderr := run(t, append([]string{"coldstarts", "world", "--since", "10m"}, addr...)...)
		if code != ExitOK || out != "" || !strings.Contains(stderr, "No cold starts of world in the last 10m.") {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, nothing, and no cold starts", code, out, stderr)
		}
	})
}
