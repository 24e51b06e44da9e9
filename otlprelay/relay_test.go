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

package otlprelay

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/eventually"
)

// otlpRequest builds a request with one span per name in one trace.
// quiet discards the relay's warnings in tests that provoke them.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func otlpRequest(service string, traceID byte, names ...string) *coltracepb.ExportTraceServiceRequest {
	tid := bytes.Repeat([]byte{traceID}, 16)
	var spans []*tracepb.Span
	now := uint64(time.Now().UnixNano())
	for i, n := range names {
		spans = append(spans, &tracepb.Span{
			TraceId:           tid,
			SpanId:            []byte{traceID, 0, 0, 0, 0, 0, byte(i >> 8), byte(i) + 1},
			Name:              n,
			Kind:              tracepb.Span_SPAN_KIND_INTERNAL,
			StartTimeUnixNano: now,
			EndTimeUnixNano:   now + 1000,
			Attributes: []*commonpb.KeyValue{{Key: "seq", Value: &commonpb.AnyValue{
				Value: &commonpb.AnyValue_IntValue{IntValue: int64(i)}}}},
		})
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: service}}}}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}},
	}}}
}

func names(reqs ...*coltracepb.ExportTraceServiceRequest) []string {
	var out []string
	for _, r := range reqs {
		for _, rs := range r.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					out = append(out, s.Name)
				}
			}
		}
	}
	return out
}

// encode returns a request body and its headers.
func encode(t testing.TB, req *coltracepb.ExportTraceServiceRequest, jsonBody, gz bool) ([]byte, http.Header) {
	t.Helper()
	h := http.Header{}
	var body []byte
	var err error
	if jsonBody {
		body, err = otlpJSON(req)
		h.Set("Content-Type", ContentTypeJSON)
	} else {
		body, err = proto.Marshal(req)
		h.Set("Content-Type", ContentTypeProtobuf)
	}
	if err != nil {
		t.Fatal(err)
	}
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = b.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	return body, h
}

// otlpJSON writes OTLP/JSON: protojson with hex trace and span IDs.
func otlpJSON(req *coltracepb.ExportTraceServiceRequest) ([]byte, error) {
	b, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	s := string(b)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				s = replaceID(s, sp.TraceId)
				s = replaceID(s, sp.SpanId)
			}
		}
	}
	return []byte(s), nil
}

func replaceID(s string, id []byte) string {
	b, _ := protojson.Marshal(&commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: id}})
	// {"bytesValue":"<base64>"}
	b64 := strings.TrimSuffix(strings.TrimPrefix(strings.ReplaceAll(string(b), " ", ""), `{"bytesValue":"`), `"}`)
	return strings.ReplaceAll(s, `"`+b64+`"`, `"`+hex.EncodeToString(id)+`"`)
}

func post(t testing.TB, url string, body []byte, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp, rb
}

// fakeCollector is an OTLP collector over HTTP or gRPC that can be down.
type fakeCollector struct {
	protocol string
	endpoint string

	mu      sync.Mutex
	down    bool
	invalid bool
	got     []*coltracepb.ExportTraceServiceRequest
	calls   int
}

func (c *fakeCollector) export(req *coltracepb.ExportTraceServiceRequest) (ok bool, invalid bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.invalid {
		return false, true
	}
	if c.down {
		return false, false
	}
	c.got = append(c.got, req)
	return true, false
}

func (c *fakeCollector) set(down, invalid bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down, c.invalid = down, invalid
}

func (c *fakeCollector) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return names(c.got...)
}

func (c *fakeCollector) requests() []*coltracepb.ExportTraceServiceRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*coltracepb.ExportTraceServiceRequest(nil), c.got...)
}

func newFakeCollector(t testing.TB, protocol string) *fakeCollector {
	t.Helper()
	c := &fakeCollector{protocol: protocol}
	if protocol == conventions.ProtocolGRPC {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		coltracepb.RegisterTraceServiceServer(srv, &grpcCollector{c: c})
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(srv.Stop)
		c.endpoint = "http://" + ln.Addr().String()
		return c
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.Header.Get("Content-Type") != ContentTypeProtobuf || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ok, invalid := c.export(&req)
		switch {
		case invalid:
			http.Error(w, "invalid", http.StatusBadRequest)
		case !ok:
			w.Header().Set("Retry-After", "0")
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	c.endpoint = srv.URL + conventions.TracesPath
	return c
}

type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	c *fakeCollector
}

func (g *grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	ok, invalid := g.c.export(req)
	switch {
	case invalid:
		return nil, status.Error(codes.InvalidArgument, "invalid")
	case !ok:
		return nil, status.Error(codes.Unavailable, "down")
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func startRelay(t testing.TB, c *fakeCollector, opts ...Option) *Relay {
	t.Helper()
	opts = append([]Option{WithAddress("127.0.0.1:0"), WithCollector(c.protocol, c.endpoint), WithLogger(quiet),
		WithEnv(func(string) string { return "" }), WithDrainQuietPeriod(20 * time.Millisecond),
		WithBackoff(backoff.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2, Jitter: 0.2})}, opts...)
	r, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return r
}

func TestRelayForwardsEveryEncoding(t *testing.T) {
	for _, protocol := range []string{conventions.ProtocolHTTPProtobuf, conventions.ProtocolGRPC} {
		for _, enc := range []struct {
			name     string
			json, gz bool
		}{{"protobuf", false, false}, {"protobuf+gzip", false, true}, {"json", true, false}, {"json+gzip", true, true}} {
			t.Run(string(protocol)+"/"+enc.name, func(t *testing.T) {
				c := newFakeCollector(t, protocol)
				r := startRelay(t, c)
				want := otlpRequest("svc-"+enc.name, 7, "a", "b", "c")
				body, h := encode(t, want, enc.json, enc.gz)
				resp, rb := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("POST: %s %s", resp.Status, rb)
				}
				wantCT := ContentTypeProtobuf
				if enc.json {
					wantCT = ContentTypeJSON
				}
				if ct := resp.Header.Get("Content-Type"); ct != wantCT {
					t.Errorf("response Content-Type %q, want %q", ct, wantCT)
				}
				eventually.True(t, 5*time.Second, "the relay to forward the spans", func() bool { return r.Stats().ForwardedSpans == 3 })
				got := c.requests()[0]
				if diff := cmp.Diff(want, got, cmpProto()); diff != "" {
					t.Errorf("forwarded request (-want +got):\n%s", diff)
				}
				if st := r.Stats(); st.AcceptedSpans != 3 || st.ForwardedSpans != 3 || st.AcceptedRequests != 1 {
					t.Errorf("stats %+v", st)
				}
			})
		}
	}
}

func cmpProto() cmp.Option {
	return cmp.Comparer(func(a, b *coltracepb.ExportTraceServiceRequest) bool { return proto.Equal(a, b) })
}

func TestRelayHoldsWhileCollectorIsDown(t *testing.T) {
	for _, protocol := range []string{conventions.ProtocolHTTPProtobuf, conventions.ProtocolGRPC} {
		t.Run(string(protocol), func(t *testing.T) {
			c := newFakeCollector(t, protocol)
			c.set(true, false)
			r := startRelay(t, c, WithForwardBatchBytes(300))
			var want []string
			for i := range 20 {
				n := fmt.Sprintf("span-%02d", i)
				want = append(want, n)
				body, h := encode(t, otlpRequest("svc", 1, n), i%2 == 1, i%3 == 0)
				if resp, rb := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h); resp.StatusCode != http.StatusOK {
					t.Fatalf("POST %d while the collector is down: %s %s", i, resp.Status, rb)
				}
			}
			eventually.True(t, 5*time.Second, "failed forwards", func() bool { return r.Stats().Retries >= 2 })
			if st := r.Stats(); st.QueuedPayloads != 20 || st.ForwardedSpans != 0 {
				t.Fatalf("while down: stats %+v, want 20 payloads queued", st)
			}
			c.set(false, false)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := r.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, c.names()); diff != "" {
				t.Errorf("forwarded in order (-want +got):\n%s", diff)
			}
			if n := len(c.requests()); n >= 20 {
				t.Errorf("%d exports for 20 payloads: queued payloads were not coalesced", n)
			}
			if st := r.Stats(); st.ForwardedSpans != 20 || st.QueuedBytes != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestRelayAnswers429WhenFull(t *testing.T) {
	c := newFakeCollector(t, conventions.ProtocolHTTPProtobuf)
	c.set(true, false)
	body, h := encode(t, otlpRequest("svc", 1, "x"), false, false)
	r := startRelay(t, c, WithQueueBytes(5*len(body)+len(body)/2), WithRetryAfter(3*time.Second))
	for i := range 5 {
		if resp, rb := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %d: %s %s", i, resp.Status, rb)
		}
	}
	resp, rb := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("POST into a full queue: %s Retry-After %q, want 429 with Retry-After 3", resp.Status, resp.Header.Get("Retry-After"))
	}
	var st spb.Status
	if err := proto.Unmarshal(rb, &st); err != nil || !strings.Contains(st.Message, "queue full") {
		t.Errorf("429 body: %v %q, want a Status naming the full queue", err, st.Message)
	}
	if got := r.Stats(); got.AcceptedSpans != 5 || got.RejectedRequests != 1 || got.QueuedBytes != 5*len(body) {
		t.Errorf("stats %+v", got)
	}
	c.set(false, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, rb := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h); resp.StatusCode != http.StatusOK {
		t.Errorf("POST after draining: %s %s", resp.Status, rb)
	}
}

func TestRelayRejectsBadRequests(t *testing.T) {
	c := newFakeCollector(t, conventions.ProtocolHTTPProtobuf)
	r := startRelay(t, c, WithMaxRequestBytes(1000))
	good, _ := encode(t, otlpRequest("svc", 1, "x"), false, false)
	big, _ := encode(t, otlpRequest("svc", 1, strings.Repeat("n", 2000)), false, false)
	var bigGz bytes.Buffer
	zw := gzip.NewWriter(&bigGz)
	_, _ = zw.Write(big)
	_ = zw.Close()
	tests := []struct {
		name     string
		method   string
		ct, ce   string
		body     []byte
		want     int
		wantText string
	}{
		{name: "GET", method: http.MethodGet, ct: ContentTypeProtobuf, want: http.StatusMethodNotAllowed, wantText: "POST"},
		{name: "text body", ct: "text/plain", body: good, want: http.StatusUnsupportedMediaType, wantText: "application/x-protobuf"},
		{name: "brotli", ct: ContentTypeProtobuf, ce: "br", body: good, want: http.StatusUnsupportedMediaType, wantText: "gzip"},
		{name: "not gzip", ct: ContentTypeProtobuf, ce: "gzip", body: good, want: http.StatusBadRequest, wantText: "gzip"},
		{name: "garbage protobuf", ct: ContentTypeProtobuf, body: []byte{0x0a, 0xff, 0x01}, want: http.StatusBadRequest, wantText: "protobuf"},
		{name: "bad JSON", ct: ContentTypeJSON, body: []byte(`{"resourceSpans":[`), want: http.StatusBadRequest, wantText: "JSON"},
		{name: "base64 ID in JSON", ct: ContentTypeJSON, body: []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AQEBAQEBAQEBAQEBAQEBAQ==","spanId":"0102030405060708","name":"x"}]}]}]}`),
			want: http.StatusBadRequest, wantText: "traceId"},
		{name: "too large", ct: ContentTypeProtobuf, body: big, want: http.StatusRequestEntityTooLarge, wantText: "larger"},
		{name: "too large once unzipped", ct: ContentTypeProtobuf, ce: "gzip", body: bigGz.Bytes(), want: http.StatusRequestEntityTooLarge, wantText: "decompressed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, "http://"+r.Addr()+conventions.TracesPath, bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ct)
			if tt.ce != "" {
				req.Header.Set("Content-Encoding", tt.ce)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			rb, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %s, want %d (body %q)", resp.Status, tt.want, rb)
			}
			var st spb.Status
			if strings.Contains(resp.Header.Get("Content-Type"), "json") {
				err = protojson.Unmarshal(rb, &st)
			} else {
				err = proto.Unmarshal(rb, &st)
			}
			if err != nil || !strings.Contains(st.Message, tt.wantText) {
				t.Errorf("body: %v, message %q, want a Status mentioning %q", err, st.Message, tt.wantText)
			}
		})
	}
	if st := r.Stats(); st.RejectedRequests != uint64(len(tests)) || st.AcceptedRequests != 0 {
		t.Errorf("stats %+v, want %d rejected", st, len(tests))
	}
}

func TestRelayDropsWhatTheCollectorRefuses(t *testing.T) {
	for _, protocol := range []string{conventions.ProtocolHTTPProtobuf, conventions.ProtocolGRPC} {
		t.Run(string(protocol), func(t *testing.T) {
			c := newFakeCollector(t, protocol)
			c.set(false, true)
			r := startRelay(t, c)
			body, h := encode(t, otlpRequest("svc", 1, "a", "b"), false, false)
			if resp, _ := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h); resp.StatusCode != http.StatusOK {
				t.Fatal(resp.Status)
			}
			eventually.True(t, 5*time.Second, "the refused spans to be dropped", func() bool { return r.Stats().DroppedSpans == 2 })
			if st := r.Stats(); st.Retries != 0 || st.ForwardedSpans != 0 {
				t.Errorf("a permanent refusal was retried: %+v", st)
			}
		})
	}
}

func TestRelayShutdownDrains(t *testing.T) {
	c := newFakeCollector(t, conventions.ProtocolGRPC)
	c.set(true, false)
	r := startRelay(t, c)
	for i := range 10 {
		body, h := encode(t, otlpRequest("svc", 1, fmt.Sprint(i)), false, false)
		if resp, _ := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h); resp.StatusCode != http.StatusOK {
			t.Fatal(resp.Status)
		}
	}
	time.AfterFunc(100*time.Millisecond, func() { c.set(false, false) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(c.names()); n != 10 {
		t.Errorf("collector got %d spans after shutdown, want 10", n)
	}
	// after shutdown: refused
	body, h := encode(t, otlpRequest("svc", 1, "late"), false, false)
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.Addr()+conventions.TracesPath, bytes.NewReader(body))
	req.Header = h
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("POST after Shutdown answered %s, want the listener closed", resp.Status)
	}
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, conventions.TracesPath, bytes.NewReader(body)))
	if rec.Code != http.StatusOK { // no Content-Type: refused before the closing check
		if rec.Code != http.StatusUnsupportedMediaType {
			t.Errorf("handler after Shutdown: %d", rec.Code)
		}
	}
	req2 := httptest.NewRequest(http.MethodPost, conventions.TracesPath, bytes.NewReader(body))
	req2.Header.Set("Content-Type", ContentTypeProtobuf)
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, req2)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("handler after Shutdown: %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestRelayShutdownDeadlineCountsDropped(t *testing.T) {
	c := newFakeCollector(t, conventions.ProtocolHTTPProtobuf)
	c.set(true, false)
	r := startRelay(t, c)
	body, h := encode(t, otlpRequest("svc", 1, "a", "b", "c"), false, false)
	if resp, _ := post(t, "http://"+r.Addr()+conventions.TracesPath, body, h); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "3 spans dropped") {
		t.Errorf("Shutdown = %v, want an error naming 3 dropped spans", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %s past a 100ms deadline", d)
	}
	if st := r.Stats(); st.DroppedSpans != 3 || st.AcceptedSpans != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestNewRelayRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name     string
		protocol string
		endpoint string
		want     string
	}{
		{name: "no endpoint", protocol: conventions.ProtocolGRPC, want: "no collector endpoint"},
		{name: "unknown protocol", protocol: "zipkin", endpoint: "http://x:1", want: `protocol "zipkin"`},
		{name: "http without scheme", protocol: conventions.ProtocolHTTPProtobuf, endpoint: "collector:4318", want: "want a URL"},
		{name: "grpc bad scheme", protocol: conventions.ProtocolGRPC, endpoint: "ftp://collector:4317", want: "grpc endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(WithCollector(tt.protocol, tt.endpoint))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRelayServesTheOTLPExporter points the OpenTelemetry Go OTLP/HTTP
// exporter (gzip on) at the relay, as an app in a pod would.
func TestRelayServesTheOTLPExporter(t *testing.T) {
	c := newFakeCollector(t, conventions.ProtocolGRPC)
	r := startRelay(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(r.Addr()), otlptracehttp.WithInsecure(),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	want := []string{"span-0", "span-1", "span-2", "span-3", "span-4"}
	for _, name := range want {
		_, s := tp.Tracer("test").Start(ctx, name)
		s.End()
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("exporter to relay: %v", err)
	}
	if err := r.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, c.names()); diff != "" {
		t.Errorf("forwarded (-want +got):\n%s", diff)
	}
}

// TestRelayAccept: a payload handed over in the same process is forwarded
// like an HTTP export; a full queue and a malformed payload are refused.
func TestRelayAccept(t *testing.T) {
	c := newFakeCollector(t, conventions.ProtocolGRPC)
	r := startRelay(t, c)
	pb, err := proto.Marshal(otlpRequest("svc", 0x31, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Accept(pb); err != nil {
		t.Fatal(err)
	}
	if err := r.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, c.names()); diff != "" {
		t.Errorf("forwarded (-want +got):\n%s", diff)
	}
	if err := r.Accept([]byte{0x0a, 0x05, 0x01}); err == nil {
		t.Error("Accept of a malformed payload: no error")
	}
	small := startRelay(t, c, WithQueueBytes(len(pb)+1), WithMaxRequestBytes(len(pb)+1))
	c.set(true, false)
	if err := small.Accept(pb); err != nil {
		t.Fatal(err)
	}
	if err := small.Accept(pb); !errors.Is(err, ErrFull) {
		t.Errorf("Accept into a full queue = %v, want ErrFull", err)
	}
	c.set(false, false)
}
