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

package scaleout_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/backends"
)

// repo is the repository root, where scale-out/ is.
var repo = filepath.Join("..", "..")

func shipped(tb testing.TB, manifest, configMap, key string) []byte {
	tb.Helper()
	b, err := backends.ShippedConfig(filepath.Join(repo, manifest), configMap, key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ratio is the Edit that sets the shipped ratio policy's percentage.
func ratio(tb testing.TB, percent float64) backends.Edit {
	tb.Helper()
	var cfg struct {
		Processors struct {
			TailSampling struct {
				Policies []struct {
					Name string `json:"name"`
				} `json:"policies"`
			} `json:"tail_sampling"`
		} `json:"processors"`
	}
	if err := yaml.Unmarshal(shipped(tb, backends.GatewayManifest, backends.GatewayConfigMap, backends.CollectorKey), &cfg); err != nil {
		tb.Fatal(err)
	}
	for i, p := range cfg.Processors.TailSampling.Policies {
		if p.Name == "ratio" {
			return backends.Set(fmt.Sprintf("processors.tail_sampling.policies.%d.probabilistic.sampling_percentage", i), percent)
		}
	}
	tb.Fatal("the shipped gateway has no tail_sampling policy named ratio")
	return backends.Edit{}
}

// stack is Jaeger on Badger, gateways and agents, each a process on
// loopback, stopped when the test ends (agents first, Jaeger last).
type stack struct {
	jaeger   *backends.Jaeger
	query    *jaeger.Client
	gateways []*backends.Collector
	agents   []*backends.Collector
}

type stackOptions struct {
	gateways, agents int
	gatewayEdits     []backends.Edit
	agentEdits       []backends.Edit
	gatewayEnv       []string
	// ownGateway gives agent i gateway i alone instead of the ring of all.
	ownGateway bool
}

// decisionWait is the gateways' decision_wait in these tests (shipped:
// 10s), so that a run takes seconds.
const decisionWait = time.Second

func startStack(tb testing.TB, o stackOptions) *stack {
	tb.Helper()
	dir := tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := &stack{}
	j, err := backends.NewJaeger(backends.WithLogDir(dir),
		backends.WithJaegerConfig(shipped(tb, backends.JaegerPatch, backends.JaegerConfigMap, backends.JaegerKey)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := j.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(j.Stop)
	s.jaeger = j
	gw := shipped(tb, backends.GatewayManifest, backends.GatewayConfigMap, backends.CollectorKey)
	var addrs []string
	for i := range o.gateways {
		edits := append([]backends.Edit{backends.Set("processors.tail_sampling.decision_wait", decisionWait.String())}, o.gatewayEdits...)
		g, err := backends.NewGateway(fmt.Sprintf("gateway-%d", i), gw, j.OTLPGRPC, backends.WithLogDir(dir),
			backends.WithEdits(edits...), backends.WithEnv(o.gatewayEnv...))
		if err != nil {
			tb.Fatal(err)
		}
		if err := g.Start(ctx); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(g.Stop)
		s.gateways = append(s.gateways, g)
		addrs = append(addrs, g.GRPC)
	}
	ag := shipped(tb, backends.AgentManifest, backends.AgentConfigMap, backends.CollectorKey)
	for i := range o.agents {
		ring := addrs
		if o.ownGateway {
			ring = addrs[i : i+1]
		}
		a, err := backends.NewAgent(fmt.Sprintf("agent-%d", i), ag, ring, backends.WithLogDir(dir), backends.WithEdits(o.agentEdits...))
		if err != nil {
			tb.Fatal(err)
		}
		if err := a.Start(ctx); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(a.Stop)
		s.agents = append(s.agents, a)
	}
	q, err := jaeger.Dial(ctx, j.QueryGRPC)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { q.Close() })
	s.query = q
	return s
}

// kind is what a synthetic trace looks like to the tail-sampling policies.
type kind int

const (
	plain kind = iota
	coldStart
	failed
	slow
)

// spansPerTrace: activator → queue-proxy → app → a database call, the shape
// of a Knative request.
const spansPerTrace = 4

type span struct {
	service, name string
	id, parent    [8]byte
	start, end    time.Time
	attrs         []*commonpb.KeyValue
	status        tracepb.Status_StatusCode
	// via is the agent the span is sent through.
	via int
}

type trace struct {
	id    [16]byte
	kind  kind
	spans []span
	// sentAt is when its spans were handed to the agents; accepted counts
	// the spans the agents answered 200 for.
	sentAt   time.Time
	accepted int
}

func (t *trace) hexID() string { return hex.EncodeToString(t.id[:]) }

func boolAttr(k string, v bool) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}}
}

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// newTrace makes a trace whose spans alternate between the agents: the
// first two go through agent 0, the last two through agent 1 (with two
// agents), so every trace crosses both.
func newTrace(rng *rand.Rand, k kind, agents int, now time.Time) *trace {
	t := &trace{kind: k}
	binary.BigEndian.PutUint64(t.id[:8], rng.Uint64())
	binary.BigEndian.PutUint64(t.id[8:], rng.Uint64())
	total := 40 * time.Millisecond
	if k == slow {
		total = 3 * time.Second // above the shipped 2000 ms latency policy
	}
	start := now.Add(-total)
	shape := []struct{ service, name string }{
		{"activator", "GET hello.default"}, {"queue-proxy", "kn.queueproxy.proxy"}, {"hello", "GET /"}, {"hello", "SELECT orders"},
	}
	for i, sh := range shape {
		s := span{service: sh.service, name: sh.name, via: (i / 2) % agents}
		binary.BigEndian.PutUint64(s.id[:], rng.Uint64()|1)
		if i > 0 {
			s.parent = t.spans[i-1].id
		}
		s.start = start.Add(time.Duration(i) * time.Millisecond)
		s.end = start.Add(total - time.Duration(i)*time.Millisecond)
		s.attrs = []*commonpb.KeyValue{strAttr("http.route", "/orders/{id}"), strAttr("k8s.pod.name", "hello-00001-deployment-7d9c")}
		if i == 0 {
			s.attrs = append(s.attrs, boolAttr("faas.coldstart", k == coldStart))
		}
		if i == 2 && k == failed {
			s.status = tracepb.Status_STATUS_CODE_ERROR
		}
		t.spans = append(t.spans, s)
	}
	return t
}

// request is one OTLP export of the spans of traces that go through agent.
func request(traces []*trace, agent int) (*coltracepb.ExportTraceServiceRequest, map[*trace]int) {
	byService := map[string]*tracepb.ResourceSpans{}
	var order []string
	counts := map[*trace]int{}
	for _, t := range traces {
		for _, s := range t.spans {
			if s.via != agent {
				continue
			}
			rs, ok := byService[s.service]
			if !ok {
				rs = &tracepb.ResourceSpans{
					Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{strAttr("service.name", s.service), strAttr("k8s.namespace.name", "default")}},
					ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "kntrace.scaleout.test"}}},
				}
				byService[s.service] = rs
				order = append(order, s.service)
			}
			ps := &tracepb.Span{
				TraceId: t.id[:], SpanId: s.id[:], Name: s.name, Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: uint64(s.start.UnixNano()), EndTimeUnixNano: uint64(s.end.UnixNano()),
				Attributes: s.attrs, Status: &tracepb.Status{Code: s.status},
			}
			if s.parent != [8]byte{} {
				ps.ParentSpanId = s.parent[:]
			}
			rs.ScopeSpans[0].Spans = append(rs.ScopeSpans[0].Spans, ps)
			counts[t]++
		}
	}
	req := &coltracepb.ExportTraceServiceRequest{}
	for _, svc := range order {
		req.ResourceSpans = append(req.ResourceSpans, byService[svc])
	}
	return req, counts
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// traceClient is an OTLP/gRPC client of addr and its close.
func traceClient(addr string) (coltracepb.TraceServiceClient, func(), error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return coltracepb.NewTraceServiceClient(conn), func() { conn.Close() }, nil
}

// export posts req to an OTLP/HTTP endpoint; only a 200 is acceptance.
func export(ctx context.Context, url string, req *coltracepb.ExportTraceServiceRequest) error {
	body, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := httpClient.Do(hreq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, msg)
	}
	return nil
}

// send hands traces to the agents, one request per agent, and records what
// each agent accepted.
func (s *stack) send(ctx context.Context, traces []*trace) error {
	var errs []error
	now := time.Now()
	for i, a := range s.agents {
		req, counts := request(traces, i)
		if len(req.ResourceSpans) == 0 {
			continue
		}
		err := export(ctx, a.HTTPEndpoint(), req)
		for t, n := range counts {
			t.sentAt = now
			if err == nil {
				t.accepted += n
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.HTTP, err))
		}
	}
	return errors.Join(errs...)
}

// inJaeger is what Jaeger holds of a trace: the spans it sent (each counted
// once) and whether any span's parent is missing.
type inJaeger struct {
	spans    int
	orphans  int
	notFound bool
}

func (s *stack) lookup(ctx context.Context, t *trace) (inJaeger, error) {
	tr, err := s.query.GetTrace(ctx, t.hexID())
	if errors.Is(err, jaeger.ErrNotFound) {
		return inJaeger{notFound: true}, nil
	}
	if err != nil {
		return inJaeger{}, err
	}
	ids := map[uint64]bool{}
	for _, sp := range tr.Spans {
		ids[uint64(sp.SpanID)] = true
	}
	var got inJaeger
	got.spans = len(ids)
	for _, sp := range tr.Spans {
		if p := uint64(sp.ParentSpanID()); p != 0 && !ids[p] {
			got.orphans++
		}
	}
	return got, nil
}

// scrapeAll scrapes every running collector given.
func scrapeAll(ctx context.Context, cs []*backends.Collector) ([]backends.Samples, error) {
	out := make([]backends.Samples, len(cs))
	for i, c := range cs {
		m, err := c.Scrape(ctx)
		if err != nil {
			return nil, fmt.Errorf("scrape %s: %w", c.Metrics, err)
		}
		out[i] = m
	}
	return out, nil
}

func sum(ss []backends.Samples, name string, match ...string) float64 {
	var t float64
	for _, s := range ss {
		t += s.Sum(name, match...)
	}
	return t
}

// The collector's own metrics these tests read (v0.162.0 names, as its
// Prometheus exporter writes them: no _total suffix).
const (
	metricQueueSize      = "otelcol_exporter_queue_size"
	metricNewTraces      = "otelcol_processor_tail_sampling_new_trace_id_received"
	metricDecided        = "otelcol_processor_tail_sampling_global_count_traces_sampled"
	metricTracesInMemory = "otelcol_processor_tail_sampling_sampling_traces_on_memory"
	metricPolicyTime     = "otelcol_processor_tail_sampling_sampling_policy_execution_time_sum"
	metricSent           = "otelcol_exporter_sent_spans"
	metricRefused        = "otelcol_receiver_refused_spans"
	metricHeap           = "otelcol_process_runtime_heap_alloc_bytes"
)

// settle waits, bounded by timeout, until the gateways have received at
// least minTraces traces, every trace they received is decided and every
// queue of the agents and gateways is empty, twice in a row; then Jaeger
// holds everything that will ever reach it (it answers an export once
// Badger has it).
func (s *stack) settle(tb testing.TB, minTraces int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	stable := 0
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		gw, err1 := scrapeAll(ctx, s.gateways)
		ag, err2 := scrapeAll(ctx, s.agents)
		cancel()
		if err := errors.Join(err1, err2); err != nil {
			last = err.Error()
			stable = 0
		} else {
			received, decided := sum(gw, metricNewTraces), sum(gw, metricDecided)
			queued := sum(gw, metricQueueSize) + sum(ag, metricQueueSize)
			last = fmt.Sprintf("%v traces received, %v decided, %v queued", received, decided, queued)
			if received >= float64(minTraces) && decided >= received && queued == 0 {
				stable++
			} else {
				stable = 0
			}
		}
		if stable >= 2 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the pipeline did not settle within %s: %s", timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
