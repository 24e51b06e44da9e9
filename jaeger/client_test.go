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

package jaeger

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	model "github.com/jaegertracing/jaeger-idl/model/v1"
	api "github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeQuery serves two traces with the gogo codec, as Jaeger does.
type fakeQuery struct {
	api.UnimplementedQueryServiceServer
	traces map[model.TraceID][]model.Span
	order  []model.TraceID
	gotQ   *api.TraceQueryParameters
}

func (f *fakeQuery) GetServices(context.Context, *api.GetServicesRequest) (*api.GetServicesResponse, error) {
	return &api.GetServicesResponse{Services: []string{"a", "b"}}, nil
}

func (f *fakeQuery) GetTrace(req *api.GetTraceRequest, srv api.QueryService_GetTraceServer) error {
	spans, ok := f.traces[req.TraceID]
	if !ok {
		return nil // Jaeger v2 answers an empty stream or NotFound; both mean not found
	}
	// two chunks, as Jaeger splits long traces
	if err := srv.Send(&api.SpansResponseChunk{Spans: spans[:1]}); err != nil {
		return err
	}
	return srv.Send(&api.SpansResponseChunk{Spans: spans[1:]})
}

func (f *fakeQuery) FindTraces(req *api.FindTracesRequest, srv api.QueryService_FindTracesServer) error {
	f.gotQ = req.Query
	// spans of both traces interleaved in one chunk
	var all []model.Span
	for i := range 2 {
		for _, id := range f.order {
			all = append(all, f.traces[id][i])
		}
	}
	return srv.Send(&api.SpansResponseChunk{Spans: all})
}

func span(tid model.TraceID, id uint64, name string) model.Span {
	return model.Span{TraceID: tid, SpanID: model.SpanID(id), OperationName: name, StartTime: time.Unix(1700000000, 0).UTC()}
}

func startFake(t *testing.T) (string, *fakeQuery) {
	t.Helper()
	t1, t2 := model.NewTraceID(1, 2), model.NewTraceID(0, 3)
	f := &fakeQuery{
		traces: map[model.TraceID][]model.Span{
			t1: {span(t1, 1, "root"), span(t1, 2, "child")},
			t2: {span(t2, 3, "other"), span(t2, 4, "other-child")},
		},
		order: []model.TraceID{t1, t2},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(gogoCodec{}))
	api.RegisterQueryServiceServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String(), f
}

func names(tr *model.Trace) []string {
	var out []string
	for _, s := range tr.Spans {
		out = append(out, s.OperationName)
	}
	return out
}

func TestClient(t *testing.T) {
	addr, f := startFake(t)
	ctx := context.Background()
	c, err := Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	services, err := c.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, services); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}

	tr, err := c.GetTrace(ctx, "00000000000000010000000000000002")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"root", "child"}, names(tr)); diff != "" {
		t.Errorf("GetTrace spans (-want +got):\n%s", diff)
	}
	if _, err := c.GetTrace(ctx, "ffff"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetTrace of an unknown trace = %v, want ErrNotFound", err)
	}
	if _, err := c.GetTrace(ctx, "not-hex"); err == nil || !strings.Contains(err.Error(), "hex") {
		t.Errorf("GetTrace(not-hex) = %v, want an error about hex digits", err)
	}

	traces, err := c.FindTraces(ctx, Query{Service: "a", Tags: map[string]string{"k": "v"}, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, tr := range traces {
		got = append(got, names(tr))
	}
	if diff := cmp.Diff([][]string{{"root", "child"}, {"other", "other-child"}}, got); diff != "" {
		t.Errorf("FindTraces grouped (-want +got):\n%s", diff)
	}
	if f.gotQ.ServiceName != "a" || f.gotQ.SearchDepth != 5 || f.gotQ.Tags["k"] != "v" || f.gotQ.StartTimeMin.IsZero() {
		t.Errorf("query sent: %+v", f.gotQ)
	}
	if _, err := c.FindTraces(ctx, Query{}); err == nil || !strings.Contains(err.Error(), "Service") {
		t.Errorf("FindTraces without a service = %v, want an error naming Query.Service", err)
	}
}

func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer() // a gRPC server without Jaeger's query service
	go func() { _ = srv.Serve(other) }()
	defer srv.Stop()

	tests := []struct {
		name string
		addr string
		want string
	}{
		{name: "nothing listening", addr: closed, want: closed},
		{name: "not Jaeger", addr: other.Addr().String(), want: "wrong port"},
		{name: "empty", addr: "", want: "empty query address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c, err := Dial(context.Background(), tt.addr, WithDialTimeout(500*time.Millisecond))
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Dial error %q, want it to mention %q", err, tt.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Dial took %s with a 500ms timeout", d)
			}
		})
	}
	t.Run("without connect check, first call fails clearly", func(t *testing.T) {
		c, err := Dial(context.Background(), closed, WithoutConnectCheck(), WithCallTimeout(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Services(context.Background()); err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("Services on a closed port = %v, want an unreachable error", err)
		}
	})
}
