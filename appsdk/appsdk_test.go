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

package appsdk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.uber.org/goleak"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/leakcheck"
	"github.com/kntrace/kntrace/spanbuffer"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		helperApp()
		return
	}
	goleak.VerifyTestMain(m, leakcheck.IdleHTTP()...)
}

func envOf(m map[string]string) Option {
	return WithEnv(func(k string) string { return m[k] })
}

func shutdown(t *testing.T, s *SDK) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestResourceFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		opts    []Option
		want    map[string]string
		wantErr string
	}{
		{name: "knative", env: map[string]string{"K_SERVICE": "hello", "K_REVISION": "hello-00002", "HOSTNAME": "hello-00002-deployment-x"},
			want: map[string]string{"service.name": "hello", "faas.name": "hello", "faas.version": "hello-00002", "faas.instance": "hello-00002-deployment-x", "k8s.pod.name": "hello-00002-deployment-x"}},
		{name: "OTEL_SERVICE_NAME wins", env: map[string]string{"K_SERVICE": "hello", conventions.EnvServiceName: "svc", conventions.EnvResourceAttributes: "service.name=other,team=a%20b"},
			want: map[string]string{"service.name": "svc", "faas.name": "hello", "team": "a b"}},
		{name: "resource attributes name the service", env: map[string]string{conventions.EnvResourceAttributes: "service.name=other"}, opts: []Option{WithServiceName("opt")},
			want: map[string]string{"service.name": "other"}},
		{name: "option before K_SERVICE", env: map[string]string{"K_SERVICE": "hello"}, opts: []Option{WithServiceName("opt")},
			want: map[string]string{"service.name": "opt"}},
		{name: "bad resource attributes", env: map[string]string{conventions.EnvResourceAttributes: "novalue", "K_SERVICE": "hello"},
			want: map[string]string{"service.name": "hello"}, wantErr: conventions.EnvResourceAttributes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]Option{envOf(tt.env), WithExporter(tracetest.NewInMemoryExporter()), WithoutGlobal()}, tt.opts...)
			s, err := Start(context.Background(), opts...)
			defer shutdown(t, s)
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Start error = %v, want one naming %q", err, tt.wantErr)
			}
			got := map[string]string{}
			for _, kv := range s.Resource().Attributes() {
				if _, ok := tt.want[string(kv.Key)]; ok {
					got[string(kv.Key)] = kv.Value.Emit()
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("resource (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSamplingOnlyHeaders: a request that carries only a sampling decision
// (Zipkin's b3 single header without IDs, or Jaeger's jaeger-debug-id)
// decides the new root span even at rate 0; a deny wins at rate 1.
func TestSamplingOnlyHeaders(t *testing.T) {
	tests := []struct {
		name   string
		rate   string
		header [2]string
		want   bool
	}{
		{name: "b3 debug at rate 0", rate: "0", header: [2]string{"b3", "d"}, want: true},
		{name: "b3 accept at rate 0", rate: "0", header: [2]string{"b3", "1"}, want: true},
		{name: "jaeger-debug-id at rate 0", rate: "0", header: [2]string{"jaeger-debug-id", "ticket-42"}, want: true},
		{name: "b3 deny at rate 1", rate: "1", header: [2]string{"b3", "0"}, want: false},
		{name: "nothing at rate 0", rate: "0", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			env := map[string]string{conventions.EnvSampler: conventions.Sampler, conventions.EnvSamplerArg: tt.rate,
				conventions.EnvPropagators: "tracecontext,b3,jaeger"}
			s, err := Start(context.Background(), envOf(env), WithExporter(exp), WithoutGlobal())
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header[0] != "" {
				req.Header.Set(tt.header[0], tt.header[1])
			}
			defer shutdown(t, s)
			s.Handler(http.NotFoundHandler(), "op").ServeHTTP(httptest.NewRecorder(), req)
			if err := s.Buffer().ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := len(exp.GetSpans()) > 0; got != tt.want {
				t.Errorf("request span sampled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExporterFromEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "defaults"},
		{name: "grpc", env: map[string]string{conventions.EnvProtocol: "grpc", conventions.EnvEndpoint: "http://127.0.0.1:1", conventions.EnvHeaders: "a=b"}},
		{name: "signal endpoint", env: map[string]string{conventions.EnvTracesEndpoint: "https://c:4318/custom", conventions.EnvCompression: "gzip"}},
		{name: "http/json", env: map[string]string{conventions.EnvProtocol: "http/json"}, wantErr: "http/json"},
		{name: "unknown protocol", env: map[string]string{conventions.EnvTracesProtocol: "thrift"}, wantErr: conventions.EnvTracesProtocol},
		{name: "scheme-less endpoint", env: map[string]string{conventions.EnvEndpoint: "collector:4318"}, wantErr: "collector:4318"},
		{name: "bad headers", env: map[string]string{conventions.EnvTracesHeaders: "x"}, wantErr: conventions.EnvTracesHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp, err := buildExporter(context.Background(), func(k string) string { return tt.env[k] })
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error = %v, want one naming %q", err, tt.wantErr)
			}
			if exp == nil {
				t.Fatal("no exporter: a bad variable must fall back to the default")
			}
			_ = exp.Shutdown(context.Background())
		})
	}
}

func TestHandler(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	env := map[string]string{"K_SERVICE": "hello", "K_REVISION": "hello-1", "OTEL_PROPAGATORS": "b3,tracecontext"}
	s, err := Start(context.Background(), envOf(env), WithExporter(exp), WithoutGlobal(),
		WithBufferOptions(spanbuffer.WithBatchTimeout(time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, s)
	s.MarkReady()
	h := s.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }), "hello")
	for i := range 3 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("b3", "4bf92f3577b34da6a3ce929d0e0e473"+string(rune('0'+i))+"-00f067aa0ba902b7-1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("status %d", rec.Code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Buffer().ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	var coldFlags []bool
	var coldStart int
	for _, sp := range exp.GetSpans() {
		switch sp.Name {
		case "hello":
			if !strings.HasPrefix(sp.SpanContext.TraceID().String(), "4bf92f3577b34da6a3ce929d0e0e473") {
				t.Errorf("server span trace %s does not continue the B3 trace", sp.SpanContext.TraceID())
			}
			for _, kv := range sp.Attributes {
				if kv.Key == semconv.FaaSColdstartKey {
					coldFlags = append(coldFlags, kv.Value.AsBool())
				}
			}
			if v, _ := sp.Resource.Set().Value(semconv.FaaSNameKey); v.AsString() != "hello" {
				t.Errorf("resource faas.name = %q", v.AsString())
			}
		case coldstart.SourceApp.SpanName():
			coldStart++
			if v := attrValue(sp.Attributes, semconv.FaaSVersionKey); v != "hello-1" {
				t.Errorf("cold-start span faas.version = %q", v)
			}
		}
	}
	if diff := cmp.Diff([]bool{true, false, false}, coldFlags); diff != "" {
		t.Errorf("faas.coldstart per request (-want +got):\n%s", diff)
	}
	if coldStart != 1 {
		t.Errorf("%d cold-start spans, want 1", coldStart)
	}
}

func attrValue(kvs []attribute.KeyValue, k attribute.Key) string {
	for _, kv := range kvs {
		if kv.Key == k {
			return kv.Value.Emit()
		}
	}
	return ""
}

func TestDisabled(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	s, err := Start(context.Background(), envOf(map[string]string{conventions.EnvSDKDisabled: "true"}), WithExporter(exp), WithoutGlobal())
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, s)
	if s.Buffer() != nil {
		t.Error("disabled SDK has a buffer")
	}
	h := s.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), "x")
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans with %s=true", n, conventions.EnvSDKDisabled)
	}
	s2, err := Start(context.Background(), envOf(map[string]string{conventions.EnvSDKDisabled: "yes"}), WithExporter(exp), WithoutGlobal())
	defer shutdown(t, s2)
	if err == nil || !strings.Contains(err.Error(), conventions.EnvSDKDisabled) {
		t.Errorf("%s=yes: error %v, want one naming the variable", conventions.EnvSDKDisabled, err)
	}
	if s2.Buffer() == nil {
		t.Errorf("%s=yes: tracing disabled, want it on (the default) with the error", conventions.EnvSDKDisabled)
	}
}

func unreachableEnv(protocol string) map[string]string {
	return map[string]string{conventions.EnvProtocol: protocol, conventions.EnvEndpoint: "http://127.0.0.1:9", "K_SERVICE": "bench"}
}

func TestStartNeverWaitsForTheCollector(t *testing.T) {
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(protocol, func(t *testing.T) {
			begin := time.Now()
			s, err := Start(context.Background(), envOf(unreachableEnv(protocol)), WithoutGlobal())
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(begin); d > 200*time.Millisecond {
				t.Errorf("Start took %s with an unreachable collector", d)
			}
			_, sp := s.TracerProvider().Tracer("t").Start(context.Background(), "x")
			sp.End()
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			begin = time.Now()
			if err := s.Shutdown(ctx); err == nil {
				t.Error("Shutdown with an unreachable collector and a span held = nil, want an error")
			}
			if d := time.Since(begin); d > 2*time.Second {
				t.Errorf("Shutdown took %s past its 300ms deadline", d)
			}
		})
	}
}

// BenchmarkStart measures Start with an unreachable collector (target: under
// 1 ms); shutdown is outside the timed part.
func BenchmarkStart(b *testing.B) {
	for _, protocol := range []string{"http/protobuf", "grpc"} {
		b.Run("unreachable/"+strings.ReplaceAll(protocol, "/", "-"), func(b *testing.B) {
			b.ReportAllocs()
			env := envOf(unreachableEnv(protocol))
			for b.Loop() {
				s, err := Start(context.Background(), env, WithoutGlobal())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = s.Shutdown(ctx)
				cancel()
				b.StartTimer()
			}
		})
	}
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
