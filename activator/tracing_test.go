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

package activator

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"knative.dev/pkg/observability/tracing"
	servingo11y "knative.dev/serving/pkg/observability"

	"github.com/kntrace/kntrace/conventions"
)

// receiver is an OTLP/gRPC trace receiver that counts spans.
type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	spans atomic.Int64
}

func (r *receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans.Add(int64(len(ss.GetSpans())))
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestTracerProviderHoldsSpansWhileCollectorDown: spans the activator ends
// while its collector is down are held (a flush fails, naming them), and
// reach the collector once it listens, though the outage outlasted the
// exporter's timeout, after which Knative's batch span processor drops
// them.
func TestTracerProviderHoldsSpansWhileCollectorDown(t *testing.T) {
	t.Setenv("SYSTEM_NAMESPACE", "knative-serving") // Knative's resource names it
	t.Setenv(conventions.EnvSampler, "always_on")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200") // ms; Knative's default is 10 s
	t.Setenv(conventions.EnvEndpoint, "")
	t.Setenv(conventions.EnvTracesEndpoint, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the collector is down
	o11y := &servingo11y.Config{}
	o11y.Tracing = tracing.Config{Protocol: conventions.ProtocolGRPC, Endpoint: "http://" + addr, SamplingRate: 1}
	ctx := context.Background()
	tp, err := newTracerProvider(ctx, o11y)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(ctx)
	const n = 3
	for range n {
		_, s := tp.Tracer("test").Start(ctx, "request")
		s.End()
	}
	flusher, ok := tp.(interface{ ForceFlush(context.Context) error })
	if !ok {
		t.Fatalf("tracer provider %T has no ForceFlush", tp)
	}
	fctx, cancel := context.WithTimeout(ctx, time.Second) // five exporter timeouts
	err = flusher.ForceFlush(fctx)
	cancel()
	if err == nil {
		t.Fatal("ForceFlush succeeded with the collector down: nothing was held")
	}
	t.Logf("collector down: %v", err)

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the collector's port was taken meanwhile: %v", err)
	}
	rcv := &receiver{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, rcv)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	fctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := flusher.ForceFlush(fctx); err != nil {
		t.Fatalf("the collector is back: %v", err)
	}
	if got := rcv.spans.Load(); got != n {
		t.Errorf("the collector got %d spans, want the %d ended while it was down", got, n)
	}
}
