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

package podstart

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/internal/eventually"
	"github.com/kntrace/kntrace/otlprelay"
)

// collector is an OTLP/gRPC trace receiver that counts spans.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	spans atomic.Int64
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.spans.Add(int64(spanCount(req.GetResourceSpans())))
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// serveGRPC serves srv on a loopback port and returns its address.
func serveGRPC(t *testing.T, srv coltracepb.TraceServiceServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(g, srv)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	return ln.Addr().String()
}

// world is a Server with a relay to a counting collector, its OTLP/gRPC
// receiver and report endpoint on loopback, and an in-memory exporter for
// the spans it records.
type world struct {
	srv       *Server
	exp       *tracetest.InMemoryExporter
	collector *collector
	client    coltracepb.TraceServiceClient
	reports   *httptest.Server
}

func newWorld(t *testing.T, opts ...Option) *world {
	t.Helper()
	w := &world{exp: tracetest.NewInMemoryExporter(), collector: &collector{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(w.exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	relay, err := otlprelay.New(otlprelay.WithCollector("grpc", "http://"+serveGRPC(t, w.collector)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Shutdown(context.Background()) })
	w.srv = New(append([]Option{WithTracerProvider(tp), WithRelay(relay)}, opts...)...)
	conn, err := grpc.NewClient(serveGRPC(t, w.srv), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	w.client = coltracepb.NewTraceServiceClient(conn)
	mux := http.NewServeMux()
	mux.Handle(coldstart.ReportPath, w.srv)
	w.reports = httptest.NewServer(mux)
	t.Cleanup(w.reports.Close)
	return w
}

func (w *world) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (w *world) export(t *testing.T, rss []*tracepb.ResourceSpans) {
	t.Helper()
	resp, err := w.client.Export(context.Background(), &coltracepb.ExportTraceServiceRequest{ResourceSpans: rss})
	if err != nil || resp.GetPartialSuccess().GetRejectedSpans() != 0 {
		t.Fatalf("export: %v %v", resp, err)
	}
}

func (w *world) post(t *testing.T, contentType string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(w.reports.URL+coldstart.ReportPath, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func reportJSON(t *testing.T, r coldstart.Report) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReportThenSpans: the activator's report arrives before the kubelet's
// and the API server's spans (as it does: they export in batches); the
// phases are written once the spans arrive, under the request's span, and a
// span in the kubelet's trace links back. Every span received is relayed.
func TestReportThenSpans(t *testing.T) {
	w := newWorld(t)
	w.run(t)
	r := fixReport()
	if code, body := w.post(t, "application/json", reportJSON(t, r)); code != http.StatusAccepted {
		t.Fatalf("report: %d %s", code, body)
	}
	if got := len(w.exp.GetSpans()); got != 0 {
		t.Fatalf("%d spans recorded before the records arrived", got)
	}
	fix := fixture(0)
	sent := spanCount(fix)
	w.export(t, fix)
	eventually.True(t, 10*time.Second, "the cold start recorded", func() bool { return w.srv.Stats().Recorded == 1 })
	eventually.True(t, 10*time.Second, "every span received relayed to the collector", func() bool { return w.collector.spans.Load() == int64(sent) })

	spans := w.exp.GetSpans()
	request := r.Request()
	var group tracetest.SpanStub
	var phases []string
	var back []tracetest.SpanStub
	for _, s := range spans {
		switch {
		case s.Name == coldstart.SpanKubernetes:
			group = s
		case s.Name == coldstart.SpanRequestLink:
			back = append(back, s)
		}
	}
	if group.SpanContext.TraceID() != request.TraceID() || group.Parent.SpanID() != request.SpanID() {
		t.Fatalf("%s in trace %s under %s, want under the request's span %s/%s", coldstart.SpanKubernetes, group.SpanContext.TraceID(), group.Parent.SpanID(), request.TraceID(), request.SpanID())
	}
	if len(group.Links) != 1 || group.Links[0].SpanContext.SpanID() != trace.SpanID(id(1, 8)) {
		t.Errorf("%s links %+v, want the kubelet's syncPod", coldstart.SpanKubernetes, group.Links)
	}
	sources := map[string]string{}
	for _, s := range spans {
		if s.Parent.SpanID() == group.SpanContext.SpanID() {
			phases = append(phases, strings.TrimPrefix(s.Name, coldstart.SpanPhasePrefix))
			for _, kv := range s.Attributes {
				if kv.Key == coldstart.AttrSource {
					sources[strings.TrimPrefix(s.Name, coldstart.SpanPhasePrefix)] = kv.Value.AsString()
				}
			}
		}
	}
	if diff := cmp.Diff(coldstart.KubernetesPhases(), phases); diff != "" {
		t.Errorf("phase spans (-want +got):\n%s", diff)
	}
	if sources[coldstart.PhaseSandbox] != coldstart.PhaseSourceKubelet || sources[coldstart.PhaseScheduling] != coldstart.PhaseSourceAPIServer {
		t.Errorf("phase sources %v", sources)
	}
	if len(back) != 1 || back[0].Parent.SpanID() != trace.SpanID(id(1, 8)) || back[0].SpanContext.TraceID() != trace.TraceID(id(1, 16)) ||
		len(back[0].Links) != 1 || back[0].Links[0].SpanContext.SpanID() != request.SpanID() {
		t.Errorf("%s: %+v, want one child of the kubelet's syncPod linked to the request", coldstart.SpanRequestLink, back)
	}
}

// TestSpansThenReport: the records already indexed; the report is recorded
// at once.
func TestSpansThenReport(t *testing.T) {
	w := newWorld(t)
	w.run(t)
	w.export(t, fixture(120))
	r := fixReport()
	r.AppReady, r.Handoff, r.FirstByte = ms(1420), ms(1570), ms(1590)
	if code, body := w.post(t, "application/json", reportJSON(t, r)); code != http.StatusAccepted {
		t.Fatalf("report: %d %s", code, body)
	}
	eventually.True(t, 10*time.Second, "the cold start recorded", func() bool { return w.srv.Stats().Recorded == 1 })
	for _, s := range w.exp.GetSpans() {
		if s.Name == coldstart.SpanPhasePrefix+coldstart.PhaseImage {
			for _, kv := range s.Attributes {
				if kv.Key == coldstart.AttrImage {
					t.Errorf("image phase of a pulled image has %s=%s", kv.Key, kv.Value.AsString())
				}
			}
			if d := s.EndTime.Sub(s.StartTime); d != 120*time.Millisecond {
				t.Errorf("image phase %s, want the pull's 120ms", d)
			}
		}
	}
}

// TestIncompleteRecordsGiveUp: a report whose records never arrive is
// dropped at its deadline, counted, and nothing is recorded.
func TestIncompleteRecordsGiveUp(t *testing.T) {
	w := newWorld(t, WithWait(200*time.Millisecond))
	w.run(t)
	fix := fixture(0)
	fix[0] = resourceSpans(serviceKubelet) // no kubelet spans
	w.export(t, fix)
	if code, body := w.post(t, "application/json", reportJSON(t, fixReport())); code != http.StatusAccepted {
		t.Fatalf("report: %d %s", code, body)
	}
	eventually.True(t, 10*time.Second, "the report given up", func() bool { return w.srv.Stats().Incomplete == 1 })
	if st := w.srv.Stats(); st.Recorded != 0 || len(w.exp.GetSpans()) != 0 {
		t.Errorf("stats %+v and %d spans, want nothing recorded", st, len(w.exp.GetSpans()))
	}
}

// TestRetriedReportRecordedOnce: the activator retries a post whose answer
// it did not get; the same report taken again, waiting or already
// recorded, is answered 202 and recorded once.
func TestRetriedReportRecordedOnce(t *testing.T) {
	w := newWorld(t)
	w.run(t)
	r := reportJSON(t, fixReport())
	for range 2 {
		if code, body := w.post(t, "application/json", r); code != http.StatusAccepted {
			t.Fatalf("report: %d %s", code, body)
		}
	}
	w.export(t, fixture(0))
	eventually.True(t, 10*time.Second, "the cold start recorded", func() bool { return w.srv.Stats().Recorded == 1 })
	if code, body := w.post(t, "application/json", r); code != http.StatusAccepted {
		t.Fatalf("report after it was recorded: %d %s", code, body)
	}
	// A fresh report is still taken and recorded: only the same one is not.
	other := fixReport()
	other.SpanID = "00f067aa0ba902b8"
	if code, body := w.post(t, "application/json", reportJSON(t, other)); code != http.StatusAccepted {
		t.Fatalf("another report: %d %s", code, body)
	}
	eventually.True(t, 10*time.Second, "the other cold start recorded", func() bool { return w.srv.Stats().Recorded == 2 })
	st := w.srv.Stats()
	if diff := cmp.Diff(Stats{Reports: 2, Duplicates: 2, Recorded: 2}, Stats{Reports: st.Reports, Duplicates: st.Duplicates, Recorded: st.Recorded, Incomplete: st.Incomplete, Refused: st.Refused}); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	groups := 0
	for _, s := range w.exp.GetSpans() {
		if s.Name == coldstart.SpanKubernetes {
			groups++
		}
	}
	if groups != 2 {
		t.Errorf("%d %s spans, want one per cold start (2)", groups, coldstart.SpanKubernetes)
	}
}

// TestRecentReportsForgetsTheOldest: the memory of taken reports is
// bounded; the oldest is forgotten first.
func TestRecentReportsForgetsTheOldest(t *testing.T) {
	k := newRecentReports(2)
	reports := make([]coldstart.Report, 4)
	for i := range reports {
		reports[i] = fixReport()
		reports[i].Pod = fmt.Sprintf("pod-%d", i)
	}
	for _, r := range reports {
		k.add(r)
	}
	var got []bool
	for _, r := range reports {
		got = append(got, k.has(r))
	}
	if diff := cmp.Diff([]bool{false, false, true, true}, got); diff != "" {
		t.Errorf("remembered (-want +got):\n%s", diff)
	}
	if len(k.set) != 2 {
		t.Errorf("%d keys kept, want 2", len(k.set))
	}
}

// TestBadReports: each refusal names what is wrong and changes nothing.
func TestBadReports(t *testing.T) {
	w := newWorld(t, WithMaxPending(1))
	good := reportJSON(t, fixReport())
	bad := fixReport()
	bad.TraceID, bad.Pod = "xyz", ""
	another := fixReport()
	another.Pod += "-2"
	tests := []struct {
		name, contentType string
		body              []byte
		code              int
		want              []string
	}{
		{"not JSON", "text/plain", good, http.StatusUnsupportedMediaType, []string{"Content-Type", "application/json"}},
		{"malformed", "application/json", []byte("{"), http.StatusBadRequest, []string{"report"}},
		{"invalid fields", "application/json", reportJSON(t, bad), http.StatusBadRequest, []string{"traceID", "pod"}},
		{"too large", "application/json", bytes.Repeat([]byte(" "), maxReportBytes+1), http.StatusRequestEntityTooLarge, []string{"larger than"}},
		{"accepted", "application/json", good, http.StatusAccepted, nil},
		{"too many waiting", "application/json", reportJSON(t, another), http.StatusTooManyRequests, []string{"already wait"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := w.post(t, tt.contentType, tt.body)
			if code != tt.code {
				t.Fatalf("status %d %q, want %d", code, body, tt.code)
			}
			for _, s := range tt.want {
				if !strings.Contains(body, s) {
					t.Errorf("body %q does not name %q", body, s)
				}
			}
		})
	}
	if st := w.srv.Stats(); st.Reports != 1 || st.Refused != 5 {
		t.Errorf("stats %+v, want 1 report taken and 5 refused", st)
	}
	resp, err := http.Get(w.reports.URL + coldstart.ReportPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET: %d Allow %q, want 405 Allow POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestServe: Serve answers readiness and OTLP on its listeners and returns
// nil once its context is done.
func TestServe(t *testing.T) {
	srv := New()
	otlp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reports, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, otlp, reports) }()
	resp, err := http.Get("http://" + reports.Addr().String() + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	conn, err := grpc.NewClient(otlp.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := coltracepb.NewTraceServiceClient(conn).Export(ctx, &coltracepb.ExportTraceServiceRequest{ResourceSpans: fixture(0)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Index().Pod(fixNS, fixPod); !ok {
		t.Error("the exported syncPod is not indexed")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v, want nil after its context is done", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return within 15s of its context being done")
	}
}
