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
	"fmt"
	"io"
	"strings"
	"time"

	gogoproto "github.com/gogo/protobuf/proto"
	model "github.com/jaegertracing/jaeger-idl/model/v1"
	api "github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// DefaultCallTimeout bounds every call when the caller's context has no
// earlier deadline.
const DefaultCallTimeout = 10 * time.Second

// DefaultDialTimeout bounds the connectivity check made by Dial.
const DefaultDialTimeout = 5 * time.Second

// Client queries one Jaeger instance. It is safe for concurrent use.
type Client struct {
	addr    string
	conn    *grpc.ClientConn
	query   api.QueryServiceClient
	timeout time.Duration
}

type config struct {
	callTimeout time.Duration
	dialTimeout time.Duration
	dialOptions []grpc.DialOption
	check       bool
}

// Option configures a Client.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithCallTimeout bounds each call (default DefaultCallTimeout).
func WithCallTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.callTimeout = d })
}

// WithDialTimeout bounds Dial's connectivity check (default DefaultDialTimeout).
func WithDialTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.dialTimeout = d })
}

// WithGRPCDialOptions adds gRPC dial options (for example TLS credentials,
// which replace the default plaintext transport).
func WithGRPCDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(c *config) { c.dialOptions = append(c.dialOptions, opts...) })
}

// WithoutConnectCheck makes Dial return without checking that the address
// answers the query API; the first call reports an unreachable endpoint.
func WithoutConnectCheck() Option {
	return optionFunc(func(c *config) { c.check = false })
}

// Query selects traces; Service is required.
type Query struct {
	Service   string
	Operation string
	// Tags all have to match (span tags, process tags or log fields).
	Tags        map[string]string
	StartMin    time.Time // default: one hour before now
	StartMax    time.Time // default: now
	DurationMin time.Duration
	DurationMax time.Duration
	// Limit is the maximum number of traces (Jaeger's search depth); default 20.
	Limit int
	// Raw asks for traces exactly as stored (no clock-skew adjustment).
	Raw bool
}

// Dial connects to Jaeger's query gRPC endpoint (host:port, for example the
// jaeger_query extension's grpc endpoint, 16685 by default). Unless
// WithoutConnectCheck is given it makes one GetServices call so that a wrong or
// unreachable address is reported here, bounded by ctx and the dial timeout.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	cfg := config{callTimeout: DefaultCallTimeout, dialTimeout: DefaultDialTimeout, check: true}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if addr == "" {
		return nil, errors.New("jaeger: empty query address: want host:port of the query gRPC endpoint")
	}
	dopts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(gogoCodec{})),
	}, cfg.dialOptions...)
	conn, err := grpc.NewClient(addr, dopts...)
	if err != nil {
		return nil, fmt.Errorf("jaeger: query address %q: %w", addr, err)
	}
	c := &Client{addr: addr, conn: conn, query: api.NewQueryServiceClient(conn), timeout: cfg.callTimeout}
	if !cfg.check {
		return c, nil
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.dialTimeout)
	defer cancel()
	if _, err := c.query.GetServices(cctx, &api.GetServicesRequest{}, grpc.WaitForReady(true)); err != nil {
		conn.Close()
		return nil, c.wrap("connect", err)
	}
	return c, nil
}

// Addr is the address the client was dialled with.
func (c *Client) Addr() string { return c.addr }

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Services lists the service names Jaeger has spans for.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	resp, err := c.query.GetServices(ctx, &api.GetServicesRequest{})
	if err != nil {
		return nil, c.wrap("GetServices", err)
	}
	return resp.Services, nil
}

// FindTraces returns the traces matching q, each with all of its spans, in
// the order Jaeger first returned them.
func (c *Client) FindTraces(ctx context.Context, q Query) ([]*model.Trace, error) {
	if q.Service == "" {
		return nil, errors.New("jaeger: FindTraces: Query.Service is required")
	}
	now := time.Now()
	params := &api.TraceQueryParameters{
		ServiceName:   q.Service,
		OperationName: q.Operation,
		Tags:          q.Tags,
		StartTimeMin:  q.StartMin,
		StartTimeMax:  q.StartMax,
		DurationMin:   q.DurationMin,
		DurationMax:   q.DurationMax,
		SearchDepth:   int32(q.Limit),
		RawTraces:     q.Raw,
	}
	if params.StartTimeMin.IsZero() {
		params.StartTimeMin = now.Add(-time.Hour)
	}
	if params.StartTimeMax.IsZero() {
		params.StartTimeMax = now.Add(time.Minute)
	}
	if params.SearchDepth <= 0 {
		params.SearchDepth = 20
	}
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	stream, err := c.query.FindTraces(ctx, &api.FindTracesRequest{Query: params})
	if err != nil {
		return nil, c.wrap("FindTraces", err)
	}
	spans, err := drain(stream.Recv)
	if err != nil {
		return nil, c.wrap("FindTraces", err)
	}
	return groupTraces(spans), nil
}

// GetTrace returns one trace by its ID as ParseTraceID reads it (hex
// digits or a W3C traceparent). A trace Jaeger does not hold is reported
// with an error wrapping ErrNotFound.
func (c *Client) GetTrace(ctx context.Context, traceID string) (*model.Trace, error) {
	id, err := ParseTraceID(traceID)
	if err != nil {
		return nil, fmt.Errorf("jaeger: %w", err)
	}
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	stream, err := c.query.GetTrace(ctx, &api.GetTraceRequest{TraceID: id})
	if err != nil {
		return nil, c.wrap("GetTrace", err)
	}
	spans, err := drain(stream.Recv)
	if status.Code(err) == codes.NotFound || (err == nil && len(spans) == 0) {
		return nil, fmt.Errorf("jaeger: trace %s: %w", traceID, ErrNotFound)
	}
	if err != nil {
		return nil, c.wrap("GetTrace", err)
	}
	return &model.Trace{Spans: spans}, nil
}

// ErrNotFound is wrapped by GetTrace when Jaeger holds no such trace.
var ErrNotFound = errors.New("trace not found")

func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func (c *Client) wrap(op string, err error) error {
	code := status.Code(err)
	// With WaitForReady a refused connection surfaces as DeadlineExceeded
	// carrying the last dial error.
	if code == codes.DeadlineExceeded && strings.Contains(status.Convert(err).Message(), "while dialing") {
		code = codes.Unavailable
	}
	switch code {
	case codes.Unavailable:
		return fmt.Errorf("jaeger: %s: query endpoint %s is unreachable (is Jaeger running with jaeger_query's grpc endpoint there?): %w", op, c.addr, err)
	case codes.DeadlineExceeded:
		return fmt.Errorf("jaeger: %s: no answer from %s in time: %w", op, c.addr, err)
	case codes.Unimplemented:
		return fmt.Errorf("jaeger: %s: %s does not serve Jaeger's query API (wrong port?): %w", op, c.addr, err)
	}
	return fmt.Errorf("jaeger: %s at %s: %w", op, c.addr, err)
}

func drain(recv func() (*api.SpansResponseChunk, error)) ([]*model.Span, error) {
	var spans []*model.Span
	for {
		chunk, err := recv()
		if errors.Is(err, io.EOF) {
			return spans, nil
		}
		if err != nil {
			return spans, err
		}
		for i := range chunk.Spans {
			spans = append(spans, &chunk.Spans[i])
		}
	}
}

func groupTraces(spans []*model.Span) []*model.Trace {
	var traces []*model.Trace
	index := map[model.TraceID]*model.Trace{}
	for _, s := range spans {
		t, ok := index[s.TraceID]
		if !ok {
			t = &model.Trace{}
			index[s.TraceID] = t
			traces = append(traces, t)
		}
		t.Spans = append(t.Spans, s)
	}
	return traces
}

// gogoCodec marshals through gogo/protobuf: jaeger-idl's generated types use
// gogo custom types (model.TraceID) that grpc's default codec cannot handle.
type gogoCodec struct{}

func (gogoCodec) Name() string { return "proto" }

func (gogoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(gogoproto.Message)
	if !ok {
		return nil, fmt.Errorf("jaeger: codec: %T is not a gogo proto message", v)
	}
	return gogoproto.Marshal(m)
}

func (gogoCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(gogoproto.Message)
	if !ok {
		return fmt.Errorf("jaeger: codec: %T is not a gogo proto message", v)
	}
	return gogoproto.Unmarshal(data, m)
}
