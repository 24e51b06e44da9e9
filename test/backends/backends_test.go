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

package backends

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/kntrace/kntrace/jaeger"
)

func TestCollectorConfig(t *testing.T) {
	c, err := NewCollector("127.0.0.1:14317", WithBinary("/bin/true"), WithLogDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(c.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, want := range []string{
		"endpoint: " + c.GRPC, "endpoint: " + c.HTTP, "otlp_grpc:", "endpoint: 127.0.0.1:14317",
		"processors: [memory_limiter, batch]", "level: none",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("collector config lacks %q:\n%s", want, cfg)
		}
	}
	if c.GRPC == c.HTTP || !strings.HasPrefix(c.GRPC, "127.0.0.1:") {
		t.Errorf("ports %s %s: want two loopback ports", c.GRPC, c.HTTP)
	}
	if _, err := NewCollector(""); err == nil {
		t.Error("NewCollector with no export endpoint succeeded")
	}
}

func TestBatchTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"default", nil, "timeout: 100ms"},
		{"passed on as it comes", []Option{WithBatchTimeout(0)}, "timeout: 0s"},
		{"longer", []Option{WithBatchTimeout(2 * time.Second)}, "timeout: 2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]Option{WithBinary("/bin/true"), WithLogDir(t.TempDir())}, tc.opts...)
			j, err := NewJaeger(opts...)
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewCollector(j.OTLPGRPC, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{j.ConfigPath, c.ConfigPath} {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Count(string(b), "timeout: "); got != 1 || !strings.Contains(string(b), tc.want) {
					t.Errorf("%s: %d batch timeouts, want one %q:\n%s", filepath.Base(path), got, tc.want, b)
				}
			}
		})
	}
	for _, name := range []string{"jaeger", "collector"} {
		var err error
		opts := []Option{WithBinary("/bin/true"), WithLogDir(t.TempDir()), WithBatchTimeout(-time.Second)}
		if name == "jaeger" {
			_, err = NewJaeger(opts...)
		} else {
			_, err = NewCollector("127.0.0.1:14317", opts...)
		}
		if err == nil || !strings.Contains(err.Error(), "batch timeout -1s: want 0") {
			t.Errorf("%s with a negative batch timeout: error %v, want one naming the timeout and what is accepted", name, err)
		}
	}
}

func TestStartReportsAnEarlyExit(t *testing.T) {
	start := time.Now()
	_, err := StartJaeger(context.Background(), WithBinary("/bin/false"), WithLogDir(t.TempDir()), WithReadyTimeout(10*time.Second))
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("StartJaeger with a binary that exits = %v, want an error saying it exited", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to notice the exit", d)
	}
}

func sendSpan(t *testing.T, c *Collector, service, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(c.HTTPEndpoint()))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))))
	_, s := tp.Tracer("test").Start(ctx, name)
	s.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("export to the collector: %v", err)
	}
}

func waitForTrace(t *testing.T, q *jaeger.Client, service, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		traces, err := q.FindTraces(context.Background(), jaeger.Query{Service: service})
		if err == nil && len(traces) == 1 && traces[0].Spans[0].OperationName == name {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("span %q of %s not in Jaeger within 30s (last: %d traces, %v)", name, service, len(traces), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestStack(t *testing.T) {
	// Without batching, as BenchmarkQueueProxy runs them: the backends
	// start and store spans with both processors' timeouts at 0.
	s := Start(t, true, WithBatchTimeout(0))
	q, err := jaeger.Dial(context.Background(), s.Jaeger.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()

	sendSpan(t, s.Collector, "backends-first", "first")
	waitForTrace(t, q, "backends-first", "first")

	s.Collector.Stop()
	if s.Collector.Running() {
		t.Fatal("collector still running after Stop")
	}
	if err := otlpHTTPReady(s.Collector.HTTPEndpoint())(context.Background()); err == nil {
		t.Fatal("collector answers after Stop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultCollectorReadyTimeout)
	defer cancel()
	if err := s.Collector.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sendSpan(t, s.Collector, "backends-second", "second")
	waitForTrace(t, q, "backends-second", "second")

	// Jaeger's own OTLP receiver answers too.
	direct := &Collector{HTTP: s.Jaeger.OTLPHTTP}
	if err := otlpHTTPReady(direct.HTTPEndpoint())(context.Background()); err != nil {
		t.Errorf("Jaeger's OTLP/HTTP receiver: %v", err)
	}
}
