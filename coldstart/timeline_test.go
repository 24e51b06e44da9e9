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

package coldstart

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

func attrMap(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestMiddlewareMarksExactlyOneColdStart(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	start := time.Now().Add(-3 * time.Second)
	tl := NewTimeline(WithProcessStart(start))
	ready := start.Add(2 * time.Second)
	tl.MarkReadyAt(ready)
	tl.MarkReadyAt(ready.Add(time.Second)) // the first call wins
	env := map[string]string{"K_SERVICE": "hello", "K_REVISION": "hello-00001", "POD_NAME": "hello-00001-deployment-abc", "POD_NAMESPACE": "demo"}
	h := tl.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanFromContext(r.Context()).SpanContext().IsValid() {
			t.Error("handler got no span")
		}
	}), WithTracerProvider(tp), WithAttributes(KnativeAttributes(func(k string) string { return env[k] })...), WithServerSpanName("hello"))

	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		})
	}
	wg.Wait()

	spans := exp.GetSpans()
	var cold, warm int
	var coldReq tracetest.SpanStub
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
		if s.Name != "hello" {
			continue
		}
		v, ok := attrMap(s.Attributes)[semconv.FaaSColdstartKey]
		switch {
		case !ok:
			t.Errorf("request span without %s", semconv.FaaSColdstartKey)
		case v.AsBool():
			cold++
			coldReq = s
		default:
			warm++
		}
	}
	if cold != 1 || warm != n-1 {
		t.Fatalf("%d cold and %d warm requests, want 1 and %d", cold, warm, n-1)
	}
	for _, name := range []string{SourceApp.SpanName(), SourceApp.InitSpanName(), SourceApp.WaitSpanName()} {
		if len(byName[name]) != 1 {
			t.Fatalf("%d %q spans, want 1", len(byName[name]), name)
		}
	}
	cs := byName[SourceApp.SpanName()][0]
	if cs.Parent.SpanID() != coldReq.SpanContext.SpanID() || cs.SpanContext.TraceID() != coldReq.SpanContext.TraceID() {
		t.Errorf("cold-start span is not a child of the cold request's span")
	}
	if !cs.StartTime.Equal(time.Unix(0, start.UnixNano())) {
		t.Errorf("cold-start span starts %v, want the process start %v", cs.StartTime, start)
	}
	first, ok := tl.FirstRequest()
	if !ok || !cs.EndTime.Equal(first) {
		t.Errorf("cold-start span ends %v, want the first request %v", cs.EndTime, first)
	}
	got := attrMap(cs.Attributes)
	for k, want := range map[attribute.Key]string{
		semconv.FaaSNameKey: "hello", semconv.FaaSVersionKey: "hello-00001", semconv.FaaSInstanceKey: "hello-00001-deployment-abc",
		semconv.K8SPodNameKey: "hello-00001-deployment-abc", semconv.K8SNamespaceNameKey: "demo",
	} {
		if got[k].AsString() != want {
			t.Errorf("cold-start span %s = %q, want %q", k, got[k].AsString(), want)
		}
	}
	if got[AttrSource].AsString() != string(SourceApp) {
		t.Errorf("%s = %q, want %q", AttrSource, got[AttrSource].AsString(), SourceApp)
	}
	if got["kntrace.coldstart.init_ms"].AsInt64() != 2000 {
		t.Errorf("init_ms = %d, want 2000", got["kntrace.coldstart.init_ms"].AsInt64())
	}
	var events []string
	for _, e := range cs.Events {
		events = append(events, e.Name)
	}
	if diff := cmp.Diff([]string{EventProcessStart, EventAppReady, EventFirstRequest}, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	initSpan, waitSpan := byName[SourceApp.InitSpanName()][0], byName[SourceApp.WaitSpanName()][0]
	if initSpan.Parent.SpanID() != cs.SpanContext.SpanID() || waitSpan.Parent.SpanID() != cs.SpanContext.SpanID() {
		t.Error("phase spans are not children of the cold-start span")
	}
	if !initSpan.EndTime.Equal(time.Unix(0, ready.UnixNano())) || !waitSpan.StartTime.Equal(initSpan.EndTime) {
		t.Errorf("phases: init ends %v, wait starts %v, want both at readiness %v", initSpan.EndTime, waitSpan.StartTime, ready)
	}
}

func TestMiddlewareUsesTheRequestSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tl := NewTimeline()
	h := tl.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), WithTracerProvider(tp), WithAttributes())
	ctx, outer := tp.Tracer("t").Start(context.Background(), "outer", trace.WithSpanKind(trace.SpanKindServer))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	outer.End()
	var outerStub tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "http.server" {
			t.Error("middleware started its own span although the request had one")
		}
		if s.Name == "outer" {
			outerStub = s
		}
	}
	if !attrMap(outerStub.Attributes)[semconv.FaaSColdstartKey].AsBool() {
		t.Error("faas.coldstart=true not set on the request's own span")
	}
	if _, ok := tl.Ready(); ok {
		t.Error("Ready reported without MarkReady")
	}
	if n := len(exp.GetSpans()); n != 4 {
		t.Errorf("%d spans, want 4 (request, cold start, two phases)", n)
	}
}

func TestProcessStart(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tests := []struct {
		name    string
		stat    string
		uptime  string
		want    time.Time
		wantErr bool
	}{
		{name: "plain", stat: "42 (app) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 5000 1000 100",
			uptime: "60.50 100.00", want: now.Add(-10500 * time.Millisecond)},
		{name: "command with spaces and parens", stat: "42 (my (odd) app) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 6000 1000 100",
			uptime: "60.00 1.0", want: now},
		{name: "truncated", stat: "42 (app) S 1 2", uptime: "1.0", wantErr: true},
		{name: "bad uptime", stat: "42 (app) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 6000 1000 100", uptime: "x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := processStartFrom(now, tt.stat, tt.uptime)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !got.Equal(tt.want) {
				t.Errorf("start = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("this process", func(t *testing.T) {
		got, err := ProcessStart()
		if err != nil {
			t.Fatal(err)
		}
		if age := time.Since(got); age < 0 || age > 10*time.Minute {
			t.Errorf("this test process started %s ago, want a plausible age", age)
		}
	})
}

func TestTimelineHeader(t *testing.T) {
	start := time.Unix(1700000000, 123456789)
	tl := NewTimeline(WithProcessStart(start))
	if v := tl.HeaderValue(); v != "start=1700000000123456789" {
		t.Errorf("HeaderValue before ready = %q", v)
	}
	tl.MarkReadyAt(start.Add(time.Second))
	got, err := ParseHeader(tl.HeaderValue())
	if err != nil || !got.Start.Equal(start) || !got.Ready.Equal(start.Add(time.Second)) || got.Pod != "" {
		t.Errorf("round trip: %+v %v", got, err)
	}
	named := NewTimeline(WithProcessStart(start), WithPod("hello-00001-deployment-7d9c-x2x7q"))
	if v := named.HeaderValue(); v != "start=1700000000123456789,pod=hello-00001-deployment-7d9c-x2x7q" {
		t.Errorf("HeaderValue with a pod = %q", v)
	}
	if got, err := ParseHeader(named.HeaderValue()); err != nil || got.Pod != "hello-00001-deployment-7d9c-x2x7q" {
		t.Errorf("round trip with a pod: %+v %v", got, err)
	}
	if v := NewTimeline(WithProcessStart(start), WithPod("Bad Name")).HeaderValue(); strings.Contains(v, "pod=") {
		t.Errorf("an invalid pod name reached the header: %q", v)
	}
	bad := []struct{ name, value string }{
		{"empty", ""}, {"no start", "ready=5"}, {"not a number", "start=abc"}, {"negative", "start=-5"}, {"no equals", "start"},
		{"pod empty", "start=5,pod="}, {"pod upper case", "start=5,pod=Hello"}, {"pod with space", "start=5,pod=a b"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseHeader(tt.value); err == nil {
				t.Errorf("ParseHeader(%q) = nil error", tt.value)
			}
		})
	}
	if _, err := ParseHeader("start=5,future=x"); err != nil {
		t.Errorf("unknown key refused: %v", err)
	}
}

func TestKnativeAttributes(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []attribute.KeyValue
	}{
		{name: "app container", env: map[string]string{"K_SERVICE": "s", "K_CONFIGURATION": "c", "K_REVISION": "s-1", "HOSTNAME": "pod-1"},
			want: []attribute.KeyValue{semconv.FaaSName("s"), semconv.FaaSVersion("s-1"), semconv.FaaSInstance("pod-1"), semconv.K8SPodName("pod-1")}},
		{name: "queue-proxy", env: map[string]string{"SERVING_CONFIGURATION": "c", "SERVING_REVISION": "c-1", "SERVING_POD": "p", "SERVING_NAMESPACE": "ns"},
			want: []attribute.KeyValue{semconv.FaaSName("c"), semconv.FaaSVersion("c-1"), semconv.FaaSInstance("p"), semconv.K8SPodName("p"), semconv.K8SNamespaceName("ns")}},
		{name: "nothing", env: map[string]string{}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := KnativeAttributes(func(k string) string { return tt.env[k] })
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b attribute.Value) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
