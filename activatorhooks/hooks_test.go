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

package activatorhooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	activatorhandler "knative.dev/serving/pkg/activator/handler"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	knhandler "knative.dev/serving/pkg/http/handler"
	"knative.dev/serving/pkg/queue"

	"github.com/kntrace/kntrace/activatorhooks"
	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/propagation"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Idle keep-alive connections of the test transports.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		// Started when knative.dev/pkg is loaded, for the life of the process.
		goleak.IgnoreAnyFunction("k8s.io/klog/v2.(*flushDaemon).run.func1"),
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

var (
	revID = types.NamespacedName{Namespace: "demo", Name: "hello-00001"}
	rev   = &v1.Revision{ObjectMeta: metav1.ObjectMeta{
		Namespace: revID.Namespace, Name: revID.Name,
		Labels: map[string]string{serving.ServiceLabelKey: "hello", serving.ConfigurationLabelKey: "hello"},
	}}
	t0 = time.Unix(1_800_000_000, 0)
)

// steppingClock returns t0, t0+step, t0+2·step, … on successive calls:
// Handler (arrival), Throttler (wait start), capacity granted, Transport
// (sent), first byte.
func steppingClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		at := t0.Add(time.Duration(n) * step)
		n++
		return at
	}
}

// fakeThrottler grants capacity at once with dest, or fails with err.
type fakeThrottler struct {
	dest string
	err  error
}

func (f fakeThrottler) Try(_ context.Context, _ types.NamespacedName, fn func(string, bool) error) error {
	if f.err != nil {
		return f.err
	}
	return fn(f.dest, false)
}

// queueProxy is a stand-in for the revision's queue-proxy: it records the
// request headers it got and answers with the headers of respond.
type queueProxy struct {
	*httptest.Server
	mu      sync.Mutex
	got     []http.Header
	respond http.Header
}

func newQueueProxy(t *testing.T, respond http.Header) *queueProxy {
	t.Helper()
	qp := &queueProxy{respond: respond}
	qp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		qp.mu.Lock()
		qp.got = append(qp.got, r.Header.Clone())
		qp.mu.Unlock()
		for k, vs := range qp.respond {
			w.Header()[k] = vs
		}
		io.WriteString(w, "hello from the pod")
	}))
	t.Cleanup(qp.Close)
	return qp
}

func (qp *queueProxy) dest() string {
	u, _ := url.Parse(qp.URL)
	return u.Host
}

func (qp *queueProxy) requests() []http.Header {
	qp.mu.Lock()
	defer qp.mu.Unlock()
	return append([]http.Header(nil), qp.got...)
}

// setGlobalPropagator installs p as the global propagator for one test, as
// cmd/activator does before building the handler.
func setGlobalPropagator(t testing.TB, p otelpropagation.TextMapPropagator) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(p)
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
}

// kntraceChain is the part of cmd/activator's handler chain the hooks
// touch, composed the same way: the server handler, the context handler's
// revision, upstream's activation handler with the hooks' throttler and
// transport.
func kntraceChain(h *activatorhooks.Hooks, tp trace.TracerProvider, thr activatorhandler.Throttler, rt http.RoundTripper) http.Handler {
	ah := activatorhandler.New(context.Background(), h.Throttler(thr), h.Transport(rt), false, zap.NewNop().Sugar(), false, tp, nil)
	return h.ServerHandler(withRevision(ah), "handle", otelhttp.WithTracerProvider(tp))
}

// upstreamChain is the same part of upstream's cmd/activator.
func upstreamChain(tp trace.TracerProvider, thr activatorhandler.Throttler, rt http.RoundTripper) http.Handler {
	ah := activatorhandler.New(context.Background(), thr, rt, false, zap.NewNop().Sugar(), false, tp, nil)
	return otelhttp.NewHandler(withRevision(ah), "handle", otelhttp.WithTracerProvider(tp))
}

// withRevision does what the activator's context handler does.
func withRevision(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(activatorhandler.WithRevisionAndID(r.Context(), rev, revID)))
	})
}

func newTracer(t testing.TB, sampler sdktrace.Sampler) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sampler))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %v", name, names(spans))
	return tracetest.SpanStub{}
}

// serverSpan is the activator's request span (otelhttp names it after the
// method).
func serverSpan(t *testing.T, spans tracetest.SpanStubs) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindServer {
			return s
		}
	}
	t.Fatalf("no server span among %v", names(spans))
	return tracetest.SpanStub{}
}

func names(spans tracetest.SpanStubs) []string {
	out := make([]string, 0, len(spans))
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attrs(kvs []attribute.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

func serve(h http.Handler, hdr http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "http://hello.demo.example.com/", nil)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func ns(at time.Time) string { return strconv.FormatInt(at.UnixNano(), 10) }

type phase struct {
	Name       string
	Start, End time.Duration // since t0
	Attrs      map[string]any
}

func TestColdStartPhases(t *testing.T) {
	const step = 10 * time.Millisecond
	// Clock: arrival t0, wait start +10ms, granted +20ms, sent +30ms,
	// first byte +40ms.
	phaseAttrs := func(p string, extra ...any) map[string]any {
		m := map[string]any{
			coldstart.AttrPhase: p,
			"faas.name":         "hello", "faas.version": revID.Name, "k8s.namespace.name": revID.Namespace,
		}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		timeline []string // K-Kntrace-Timeline values the pod answers with; nil: none
		backends int
		wantCold any // faas.coldstart on the request span (nil: not set)
		want     []phase
		wantBad  uint64
	}{{
		name:     "warm: no timeline, no phases, no faas.coldstart",
		backends: 2,
		wantCold: nil,
	}, {
		name:     "cold start with start and ready",
		timeline: []string{"start=" + ns(t0.Add(5*time.Millisecond)) + ",ready=" + ns(t0.Add(15*time.Millisecond))},
		wantCold: true,
		want: []phase{
			{"kntrace.coldstart.pod_start", 0, 5 * time.Millisecond, phaseAttrs("pod_start")},
			{"kntrace.coldstart.app_init", 5 * time.Millisecond, 15 * time.Millisecond, phaseAttrs("app_init", coldstart.AttrReadyKnown, true)},
			{"kntrace.coldstart.readiness", 15 * time.Millisecond, 20 * time.Millisecond, phaseAttrs("readiness")},
			{"kntrace.coldstart.proxy", 20 * time.Millisecond, 40 * time.Millisecond, phaseAttrs("proxy")},
		},
	}, {
		name:     "ready unknown: app_init has no length",
		timeline: []string{"start=" + ns(t0.Add(5*time.Millisecond))},
		wantCold: true,
		want: []phase{
			{"kntrace.coldstart.pod_start", 0, 5 * time.Millisecond, phaseAttrs("pod_start")},
			{"kntrace.coldstart.app_init", 5 * time.Millisecond, 5 * time.Millisecond, phaseAttrs("app_init", coldstart.AttrReadyKnown, false)},
			{"kntrace.coldstart.readiness", 5 * time.Millisecond, 20 * time.Millisecond, phaseAttrs("readiness")},
			{"kntrace.coldstart.proxy", 20 * time.Millisecond, 40 * time.Millisecond, phaseAttrs("proxy")},
		},
	}, {
		name:     "pod clock behind: phases clamp to arrival, never negative",
		timeline: []string{"start=" + ns(t0.Add(-time.Hour)) + ",ready=" + ns(t0.Add(-time.Minute))},
		wantCold: true,
		want: []phase{
			{"kntrace.coldstart.pod_start", 0, 0, phaseAttrs("pod_start")},
			{"kntrace.coldstart.app_init", 0, 0, phaseAttrs("app_init", coldstart.AttrReadyKnown, true)},
			{"kntrace.coldstart.readiness", 0, 20 * time.Millisecond, phaseAttrs("readiness")},
			{"kntrace.coldstart.proxy", 20 * time.Millisecond, 40 * time.Millisecond, phaseAttrs("proxy")},
		},
	}, {
		name:     "pod clock ahead: later phases clamp to the pod's times",
		timeline: []string{"start=" + ns(t0.Add(time.Second)) + ",ready=" + ns(t0.Add(2*time.Second))},
		wantCold: true,
		want: []phase{
			{"kntrace.coldstart.pod_start", 0, time.Second, phaseAttrs("pod_start")},
			{"kntrace.coldstart.app_init", time.Second, 2 * time.Second, phaseAttrs("app_init", coldstart.AttrReadyKnown, true)},
			{"kntrace.coldstart.readiness", 2 * time.Second, 2 * time.Second, phaseAttrs("readiness")},
			{"kntrace.coldstart.proxy", 2 * time.Second, 2 * time.Second, phaseAttrs("proxy")},
		},
	}, {
		name:     "malformed timeline: cold, no phases, counted",
		timeline: []string{"start=yesterday"},
		wantCold: true,
		wantBad:  1,
	}, {
		name:     "empty timeline: cold, no phases, counted",
		timeline: []string{""},
		wantCold: true,
		wantBad:  1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, exp := newTracer(t, sdktrace.AlwaysSample())
			setGlobalPropagator(t, propagation.New())
			respond := http.Header{}
			if tt.timeline != nil {
				respond[http.CanonicalHeaderKey(coldstart.Header)] = tt.timeline
			}
			qp := newQueueProxy(t, respond)
			var reported []error
			h := activatorhooks.New(activatorhooks.WithTracerProvider(tp),
				activatorhooks.WithClock(steppingClock(step)),
				activatorhooks.WithReadyBackends(func(types.NamespacedName) (int, bool) { return tt.backends, true }),
				activatorhooks.WithErrorHandler(func(err error) { reported = append(reported, err) }))

			rec := serve(kntraceChain(h, tp, fakeThrottler{dest: qp.dest()}, http.DefaultTransport), nil)

			if rec.Code != http.StatusOK || rec.Body.String() != "hello from the pod" {
				t.Fatalf("response = %d %q, want 200 %q", rec.Code, rec.Body.String(), "hello from the pod")
			}
			if v, ok := rec.Header()[http.CanonicalHeaderKey(coldstart.Header)]; ok {
				t.Errorf("response still carries %s: %q", coldstart.Header, v)
			}
			spans := exp.GetSpans()
			server := serverSpan(t, spans)
			if got := attrs(server.Attributes)["faas.coldstart"]; got != tt.wantCold {
				t.Errorf("request span faas.coldstart = %v, want %v", got, tt.wantCold)
			}
			try := spanNamed(t, spans, "throttler_try")
			wantTry := map[string]any{
				"faas.name": "hello", "faas.version": revID.Name, "k8s.namespace.name": revID.Namespace,
				activatorhooks.AttrReadyBackends: int64(tt.backends), activatorhooks.AttrZeroBackends: tt.backends == 0,
				activatorhooks.AttrWaitMs: 10.0,
			}
			if diff := cmp.Diff(wantTry, attrs(try.Attributes)); diff != "" {
				t.Errorf("throttler_try attributes (-want +got):\n%s", diff)
			}
			var got []phase
			for _, s := range spans {
				if len(s.Name) > len(coldstart.SpanPhasePrefix) && s.Name[:len(coldstart.SpanPhasePrefix)] == coldstart.SpanPhasePrefix {
					if s.Parent.SpanID() != server.SpanContext.SpanID() || s.SpanContext.TraceID() != server.SpanContext.TraceID() {
						t.Errorf("%s: parent %s/%s, want the request span %s/%s", s.Name,
							s.Parent.TraceID(), s.Parent.SpanID(), server.SpanContext.TraceID(), server.SpanContext.SpanID())
					}
					got = append(got, phase{s.Name, s.StartTime.Sub(t0), s.EndTime.Sub(t0), attrs(s.Attributes)})
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("phase spans (-want +got):\n%s", diff)
			}
			if got := h.MalformedTimelines(); got != tt.wantBad {
				t.Errorf("MalformedTimelines() = %d, want %d", got, tt.wantBad)
			}
			if got := uint64(len(reported)); got != tt.wantBad {
				t.Errorf("error handler called %d times, want %d (%v)", got, tt.wantBad, reported)
			}
		})
	}
}

func TestMalformedTimelineReportedOnce(t *testing.T) {
	tp, _ := newTracer(t, sdktrace.AlwaysSample())
	qp := newQueueProxy(t, http.Header{http.CanonicalHeaderKey(coldstart.Header): {"garbage"}})
	calls := 0
	h := activatorhooks.New(activatorhooks.WithTracerProvider(tp), activatorhooks.WithErrorHandler(func(error) { calls++ }))
	chain := kntraceChain(h, tp, fakeThrottler{dest: qp.dest()}, http.DefaultTransport)
	for range 3 {
		if rec := serve(chain, nil); rec.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200", rec.Code)
		}
	}
	if got := h.MalformedTimelines(); got != 3 {
		t.Errorf("MalformedTimelines() = %d, want 3", got)
	}
	if calls != 1 {
		t.Errorf("error handler called %d times, want once", calls)
	}
}

func TestThrottlerFailure(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
	}{
		{"capacity wait timed out", context.DeadlineExceeded, http.StatusServiceUnavailable},
		{"queue full", queue.ErrRequestQueueFull, http.StatusServiceUnavailable},
		{"other error", errors.New("boom"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, exp := newTracer(t, sdktrace.AlwaysSample())
			h := activatorhooks.New(activatorhooks.WithTracerProvider(tp),
				activatorhooks.WithClock(steppingClock(time.Second)),
				activatorhooks.WithReadyBackends(func(types.NamespacedName) (int, bool) { return 0, true }))
			rec := serve(kntraceChain(h, tp, fakeThrottler{err: tt.err}, http.DefaultTransport), nil)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d (as upstream)", rec.Code, tt.wantStatus)
			}
			got := attrs(spanNamed(t, exp.GetSpans(), "throttler_try").Attributes)
			want := map[string]any{
				"faas.name": "hello", "faas.version": revID.Name, "k8s.namespace.name": revID.Namespace,
				activatorhooks.AttrReadyBackends: int64(0), activatorhooks.AttrZeroBackends: true,
				activatorhooks.AttrWaitMs: 1000.0,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("throttler_try attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnknownBackendsAndRevision(t *testing.T) {
	tp, exp := newTracer(t, sdktrace.AlwaysSample())
	qp := newQueueProxy(t, nil)
	h := activatorhooks.New(activatorhooks.WithTracerProvider(tp), activatorhooks.WithClock(steppingClock(time.Millisecond)))
	// No context handler: the revision is not in the context.
	ah := activatorhandler.New(context.Background(), h.Throttler(fakeThrottler{dest: qp.dest()}), h.Transport(http.DefaultTransport),
		false, zap.NewNop().Sugar(), false, tp, nil)
	chain := h.ServerHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ah.ServeHTTP(w, r.WithContext(activatorhandler.WithRevisionAndID(r.Context(), nil, revID)))
	}), "handle", otelhttp.WithTracerProvider(tp))
	if rec := serve(chain, nil); rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	want := map[string]any{"faas.version": revID.Name, "k8s.namespace.name": revID.Namespace, activatorhooks.AttrWaitMs: 1.0}
	if diff := cmp.Diff(want, attrs(spanNamed(t, exp.GetSpans(), "throttler_try").Attributes)); diff != "" {
		t.Errorf("throttler_try attributes (-want +got):\n%s", diff)
	}
}

// TestUnsampledRequest: a request its caller did not sample records nothing,
// and the timeline header is still removed.
func TestUnsampledRequest(t *testing.T) {
	tp, exp := newTracer(t, sdktrace.ParentBased(sdktrace.AlwaysSample()))
	setGlobalPropagator(t, propagation.New())
	qp := newQueueProxy(t, http.Header{http.CanonicalHeaderKey(coldstart.Header): {"start=1"}})
	h := activatorhooks.New(activatorhooks.WithTracerProvider(tp))
	rec := serve(kntraceChain(h, tp, fakeThrottler{dest: qp.dest()}, http.DefaultTransport),
		http.Header{"B3": {"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0"}})
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if _, ok := rec.Header()[http.CanonicalHeaderKey(coldstart.Header)]; ok {
		t.Errorf("response still carries %s", coldstart.Header)
	}
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Errorf("recorded %v, want nothing for an unsampled request", names(spans))
	}
	reqs := qp.requests()
	if len(reqs) != 1 {
		t.Fatalf("queue-proxy got %d requests, want 1", len(reqs))
	}
	if got, want := reqs[0].Get("traceparent"), "00-80f198ee56343ba864fe8b2a57d3eff7-"; len(got) < len(want) || got[:len(want)] != want || got[len(got)-2:] != "00" {
		t.Errorf("traceparent to the queue-proxy = %q, want the caller's trace, not sampled", got)
	}
}

func okResponse() *http.Response {
	return &http.Response{
		StatusCode: http.StatusOK,
		Header:     http.Header{"Content-Type": {"text/plain"}},
		Body:       io.NopCloser(strings.NewReader("hello from the pod")),
	}
}

// blockingThrottler grants capacity only when release is closed.
type blockingThrottler struct {
	dest    string
	release chan struct{}
}

func (b blockingThrottler) Try(ctx context.Context, _ types.NamespacedName, fn func(string, bool) error) error {
	<-b.release
	return fn(b.dest, false)
}

// TestRequestTimesOutWhileWaiting: with upstream's timeout handler in the
// chain (it runs the activation handler on its own goroutine), a request
// that times out waiting for capacity gets the timeout response, and the
// hooks finishing on the other goroutine later neither race nor panic.
func TestRequestTimesOutWhileWaiting(t *testing.T) {
	tp, exp := newTracer(t, sdktrace.AlwaysSample())
	qp := newQueueProxy(t, http.Header{http.CanonicalHeaderKey(coldstart.Header): {"start=" + ns(time.Now())}})
	h := activatorhooks.New(activatorhooks.WithTracerProvider(tp))
	release := make(chan struct{})
	finished := make(chan struct{})
	ah := activatorhandler.New(context.Background(), h.Throttler(blockingThrottler{dest: qp.dest(), release: release}),
		h.Transport(http.DefaultTransport), false, zap.NewNop().Sugar(), false, tp, nil)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(finished)
		ah.ServeHTTP(w, r)
	})
	chain := h.ServerHandler(withRevision(knhandler.NewTimeoutHandler(inner, "activator request timeout",
		func(*http.Request) (time.Duration, time.Duration, time.Duration) { return 50 * time.Millisecond, 0, 0 },
		zap.NewNop().Sugar())), "handle", otelhttp.WithTracerProvider(tp))

	rec := serve(chain, nil)
	if rec.Code != http.StatusGatewayTimeout {
		t.Errorf("status = %d, want %d", rec.Code, http.StatusGatewayTimeout)
	}
	close(release)
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("the activation handler did not finish within 10s of capacity being granted")
	}
	server := serverSpan(t, exp.GetSpans())
	if got, ok := attrs(server.Attributes)["faas.coldstart"]; ok {
		t.Errorf("request span faas.coldstart = %v, want none (it ended before the pod answered)", got)
	}
}
