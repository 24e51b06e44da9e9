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
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kntrace/kntrace/activatorhooks"
	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/internal/eventually"
)

// gateThrottler holds every Try until open is closed, as the activator's
// throttler holds requests while a revision has no ready backend.
type gateThrottler struct {
	dest    string
	waiting atomic.Int32
	open    chan struct{}
}

func (g *gateThrottler) Try(ctx context.Context, _ types.NamespacedName, fn func(string, bool) error) error {
	g.waiting.Add(1)
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return fn(g.dest, false)
}

// testPod is the pod firstTimelinePod says it is.
const testPod = "hello-00001-deployment-7d9c-x2x7q"

// firstTimelinePod answers its first request with a cold-start timeline, as
// kntrace's queue-proxy does.
func firstTimelinePod(t *testing.T) *httptest.Server {
	var first atomic.Bool
	start := time.Now().Add(-300 * time.Millisecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			w.Header().Set(coldstart.Header, "start="+ns(start)+",ready="+ns(start.Add(100*time.Millisecond))+",pod="+testPod)
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func coldRequest(hdr http.Header) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "http://hello.demo.example.com/", nil)
	req.Header.Set("Knative-Serving-Namespace", revID.Namespace)
	req.Header.Set("Knative-Serving-Revision", revID.Name)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	return req
}

// coldWorld is the activator's chain at sampling rate 0 with the cold-start
// keep decision, a revision at zero and a pod that answers once backends
// appear.
type coldWorld struct {
	h      *activatorhooks.Hooks
	exp    *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	gate   *gateThrottler
	chain  http.Handler
	ready  atomic.Int32

	mu      sync.Mutex
	reports []coldstart.Report
}

func newColdWorld(t *testing.T) *coldWorld {
	w := &coldWorld{reader: sdkmetric.NewManualReader()}
	pod := firstTimelinePod(t)
	w.gate = &gateThrottler{dest: pod.Listener.Addr().String(), open: make(chan struct{})}
	tp, exp := newTracer(t, activatorhooks.Sampler(sdktrace.ParentBased(sdktrace.NeverSample())))
	w.exp = exp
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(w.reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	w.h = activatorhooks.New(activatorhooks.WithTracerProvider(tp), activatorhooks.WithMeterProvider(mp),
		activatorhooks.WithReadyBackends(func(types.NamespacedName) (int, bool) { return int(w.ready.Load()), true }),
		activatorhooks.WithColdStartReports(func(r coldstart.Report) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.reports = append(w.reports, r)
		}))
	w.chain = kntraceChain(w.h, tp, w.gate, http.DefaultTransport)
	return w
}

// serveConcurrently sends n requests that all arrive while the revision is
// at zero, then lets the pod come up.
func (w *coldWorld) serveConcurrently(t *testing.T, n int, hdr http.Header) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			w.chain.ServeHTTP(rec, coldRequest(hdr))
			if rec.Code != http.StatusOK || rec.Header().Get(coldstart.Header) != "" {
				t.Errorf("response %d with %s %q, want 200 without it", rec.Code, coldstart.Header, rec.Header().Get(coldstart.Header))
			}
		}()
	}
	eventually.True(t, 10*time.Second, "every request waiting in the throttler", func() bool { return int(w.gate.waiting.Load()) == n })
	w.ready.Store(1)
	close(w.gate.open)
	wg.Wait()
}

// TestEveryWaitingRequestIsKeptMarkedAndLinked: at sampling rate 0, five
// requests wait for one scale from zero; all five are sampled and marked
// faas.coldstart=true, the first to arrive leads (the four phases are its
// children, whichever request the pod answered first) and the other four
// link to it; the cold-start histogram has one observation whose exemplar
// is the leader's trace.
func TestEveryWaitingRequestIsKeptMarkedAndLinked(t *testing.T) {
	w := newColdWorld(t)
	w.serveConcurrently(t, 5, nil)

	spans := w.exp.GetSpans()
	var requests []tracetest.SpanStub
	byParent := map[trace.SpanID][]string{}
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindServer {
			requests = append(requests, s)
		}
		byParent[s.Parent.SpanID()] = append(byParent[s.Parent.SpanID()], s.Name)
	}
	if len(requests) != 5 {
		t.Fatalf("%d request spans sampled at rate 0, want all 5 that waited; spans: %v", len(requests), names(spans))
	}
	var leaders []tracetest.SpanStub
	for _, r := range requests {
		if attrs(r.Attributes)["faas.coldstart"] != true {
			t.Errorf("request span %s: faas.coldstart = %v, want true", r.SpanContext.SpanID(), attrs(r.Attributes)["faas.coldstart"])
		}
		if len(r.Links) == 0 {
			leaders = append(leaders, r)
		}
	}
	if len(leaders) != 1 {
		t.Fatalf("%d requests without a link, want exactly one leader", len(leaders))
	}
	leader := leaders[0].SpanContext
	for _, r := range requests {
		if r.SpanContext.SpanID() == leader.SpanID() {
			continue
		}
		if len(r.Links) != 1 || r.Links[0].SpanContext.SpanID() != leader.SpanID() || attrs(r.Links[0].Attributes)[coldstart.AttrRole] != coldstart.RoleFollower {
			t.Errorf("follower %s links %+v, want one follower link to the leader %s", r.SpanContext.SpanID(), r.Links, leader.SpanID())
		}
	}
	var phases []string
	for _, n := range byParent[leader.SpanID()] {
		if len(n) > len(coldstart.SpanPhasePrefix) && n[:len(coldstart.SpanPhasePrefix)] == coldstart.SpanPhasePrefix {
			phases = append(phases, n)
		}
	}
	want := []string{}
	for _, p := range coldstart.Phases() {
		want = append(want, coldstart.SpanPhasePrefix+p)
	}
	if diff := cmp.Diff(want, phases); diff != "" {
		t.Errorf("phase spans under the leader (-want +got):\n%s", diff)
	}

	// One report for podstart: the leader's span, the revision and the pod
	// the timeline named, times in order.
	w.mu.Lock()
	reports := w.reports
	w.mu.Unlock()
	if len(reports) != 1 {
		t.Fatalf("%d cold-start reports, want one per scale from zero: %+v", len(reports), reports)
	}
	r := reports[0]
	if err := r.Validate(); err != nil {
		t.Errorf("report %+v: %v", r, err)
	}
	got := []string{r.TraceID, r.SpanID, r.Namespace, r.Revision, r.Pod}
	if diff := cmp.Diff([]string{leader.TraceID().String(), leader.SpanID().String(), revID.Namespace, revID.Name, testPod}, got); diff != "" {
		t.Errorf("report names (-want +got):\n%s", diff)
	}
	if r.AppReady.Sub(r.ProcessStart) != 100*time.Millisecond {
		t.Errorf("report processStart %v appReady %v, want the pod's timeline (100ms apart)", r.ProcessStart, r.AppReady)
	}

	var rm metricdata.ResourceMetrics
	if err := w.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var hist *metricdata.Histogram[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == coldstart.MetricDuration {
				h := m.Data.(metricdata.Histogram[float64])
				hist = &h
			}
		}
	}
	if hist == nil || len(hist.DataPoints) != 1 || hist.DataPoints[0].Count != 1 {
		t.Fatalf("%s: %+v, want one data point with one cold start", coldstart.MetricDuration, hist)
	}
	dp := hist.DataPoints[0]
	if v, _ := dp.Attributes.Value("faas.version"); v.AsString() != revID.Name {
		t.Errorf("data point faas.version = %q, want %q", v.AsString(), revID.Name)
	}
	if len(dp.Exemplars) != 1 || trace.TraceID(dp.Exemplars[0].TraceID) != leader.TraceID() {
		t.Errorf("exemplars %+v, want one carrying the leader's trace %s", dp.Exemplars, leader.TraceID())
	}
}

// TestUnsampledCallerKeepsItsDecision: a caller that sent an unsampled
// context gets no span in its trace; the cold start it waited for is a
// trace of its own, linked to the caller's, with the phases.
func TestUnsampledCallerKeepsItsDecision(t *testing.T) {
	w := newColdWorld(t)
	const caller = "4bf92f3577b34da6a3ce929d0e0e4736"
	w.serveConcurrently(t, 1, http.Header{"Traceparent": {"00-" + caller + "-00f067aa0ba902b7-00"}})
	spans := w.exp.GetSpans()
	var root *tracetest.SpanStub
	for i, s := range spans {
		if s.SpanContext.TraceID().String() == caller {
			t.Errorf("span %q recorded in the caller's unsampled trace", s.Name)
		}
		if s.Name == coldstart.SpanUnsampledWait {
			root = &spans[i]
		}
	}
	if root == nil {
		t.Fatalf("no %s span; spans: %v", coldstart.SpanUnsampledWait, names(spans))
	}
	if root.Parent.IsValid() || len(root.Links) != 1 || root.Links[0].SpanContext.TraceID().String() != caller {
		t.Errorf("%s: parent %v, links %+v; want a root linked to the caller's trace %s", root.Name, root.Parent, root.Links, caller)
	}
	phases := 0
	for _, s := range spans {
		if s.Parent.SpanID() == root.SpanContext.SpanID() && s.Name != "throttler_try" && s.Name != "activator_proxy" {
			phases++
		}
	}
	if phases != len(coldstart.Phases()) {
		t.Errorf("%d phase spans under %s, want %d; spans: %v", phases, root.Name, len(coldstart.Phases()), names(spans))
	}
}

func TestSamplerKeepsOnlyNewTracesThatWait(t *testing.T) {
	// A cold-wait marker is only set by ServerHandler: reach it through a
	// real request, and compare with the same sampler on warm requests.
	for _, tc := range []struct {
		name   string
		ready  int32
		header http.Header
		want   int
	}{
		{name: "new trace, cold: kept", ready: 0, want: 1},
		{name: "new trace, warm: left to the base sampler (never)", ready: 1, want: 0},
		{name: "sampled caller, warm: the caller's decision", ready: 1, header: http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newColdWorld(t)
			w.ready.Store(tc.ready)
			close(w.gate.open)
			w.chain.ServeHTTP(httptest.NewRecorder(), coldRequest(tc.header))
			got := 0
			for _, s := range w.exp.GetSpans() {
				if s.SpanKind == trace.SpanKindServer {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("%d request spans, want %d", got, tc.want)
			}
		})
	}
}

var _ = propagation.TraceContext{}
