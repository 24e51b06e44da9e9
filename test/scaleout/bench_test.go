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
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/kntrace/kntrace/test/backends"
)

// benchTraces is how many traces (of spansPerTrace spans) one iteration
// sends.
const benchTraces = 10000

// tiers is a pipeline under measurement: where to send, which collectors
// to account, and how to tell that everything sent has reached Jaeger.
type tiers struct {
	// endpoints are the OTLP/HTTP URLs spans are sent to; with two, each
	// trace's spans are split over both.
	endpoints  []string
	collectors []*backends.Collector
	// front is the tier spans are sent to (the agents, or the one
	// collector); its CPU is reported apart from the rest's.
	front  []*backends.Collector
	jaeger *backends.Jaeger
	// stored is how many spans the last tier has exported to Jaeger.
	stored func(context.Context) (float64, error)
}

func sentSpans(cs []*backends.Collector) func(context.Context) (float64, error) {
	return func(ctx context.Context) (float64, error) {
		ms, err := scrapeAll(ctx, cs)
		if err != nil {
			return 0, err
		}
		return sum(ms, metricSent), nil
	}
}

// singleCollector is the default install: config/600's collector in front
// of config/700's Jaeger (in memory).
func singleCollector(b *testing.B) tiers {
	b.Helper()
	dir := b.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	jcfg, err := backends.ShippedConfig(filepath.Join(repo, "config", "700-jaeger.yaml"), backends.JaegerConfigMap, backends.JaegerKey)
	if err != nil {
		b.Fatal(err)
	}
	j, err := backends.StartJaeger(ctx, backends.WithLogDir(dir), backends.WithJaegerConfig(jcfg))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(j.Stop)
	ccfg, err := backends.ShippedConfig(filepath.Join(repo, "config", "600-otel-collector.yaml"), "otel-collector-config", backends.CollectorKey)
	if err != nil {
		b.Fatal(err)
	}
	c, err := backends.NewShippedCollector("otel-collector", ccfg, j.OTLPGRPC, backends.WithLogDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Stop)
	cs := []*backends.Collector{c}
	return tiers{endpoints: []string{c.HTTPEndpoint()}, collectors: cs, front: cs, jaeger: j, stored: sentSpans(cs)}
}

// scaleOut is the scale-out install with every trace kept (ratio 100%),
// so that both carry the same spans to Jaeger, and a 1 s decision_wait.
func scaleOut(b *testing.B) tiers {
	b.Helper()
	s := startStack(b, stackOptions{gateways: 2, agents: 2, gatewayEdits: []backends.Edit{ratio(b, 100)}})
	return tiers{
		endpoints:  []string{s.agents[0].HTTPEndpoint(), s.agents[1].HTTPEndpoint()},
		collectors: append(append([]*backends.Collector{}, s.agents...), s.gateways...),
		front:      s.agents,
		jaeger:     s.jaeger,
		stored:     sentSpans(s.gateways),
	}
}

// fourSenders sends benchTraces traces, in batches of 100 made for the
// given number of agents, from four goroutines calling send; the first
// error stops its sender and is returned.
func fourSenders(seed uint64, agents int, send func([]*trace) error) error {
	const perRequest = 100
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for sent := 0; sent < benchTraces/4; sent += perRequest {
				batch := make([]*trace, perRequest)
				for i := range batch {
					batch[i] = newTrace(rng, plain, agents, time.Now())
				}
				if err := send(batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return errors.Join(<-errs)
}

// push sends benchTraces traces over OTLP/HTTP, each trace's spans split
// over the endpoints, and returns when all were accepted (a refused request
// is retried, as an SDK does).
func push(ctx context.Context, endpoints []string, seed uint64) error {
	return fourSenders(seed, len(endpoints), func(batch []*trace) error {
		for i, url := range endpoints {
			req, _ := request(batch, i)
			if err := exportRetrying(ctx, url, req); err != nil {
				return err
			}
		}
		return nil
	})
}

func exportRetrying(ctx context.Context, url string, req *coltracepb.ExportTraceServiceRequest) error {
	for {
		err := export(ctx, url, req)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", url, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pollEvery is how often the benchmarks read a collector's metrics while
// they wait: a scrape costs the collector CPU, which is being measured.
const pollEvery = 50 * time.Millisecond

// waitStored polls every interval until the last tier has exported want
// spans.
func waitStored(ctx context.Context, t tiers, want float64, interval time.Duration) error {
	for {
		got, err := t.stored(ctx)
		if err == nil && got >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%v of %v spans exported to Jaeger: %w (last error %v)", got, want, ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// scrapeUntil scrapes g every pollEvery until done says so, bounded by ctx.
func scrapeUntil(ctx context.Context, g *backends.Collector, done func(backends.Samples) bool) (backends.Samples, error) {
	for {
		m, err := g.Scrape(ctx)
		if err != nil {
			return nil, err
		}
		if done(m) {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func usage(b *testing.B, cs []*backends.Collector) (cpu time.Duration, rss int64) {
	b.Helper()
	for _, c := range cs {
		u, err := c.Usage()
		if err != nil {
			b.Fatal(err)
		}
		cpu += u.CPU
		rss += u.RSS
	}
	return cpu, rss
}

// BenchmarkPipeline: spans per second from the senders to Jaeger on this
// machine, the collectors' and Jaeger's CPU per span, and the collectors'
// resident memory, for the scale-out
// install (two agents, two gateways, tail sampling keeping everything, to
// Jaeger on Badger) beside the default single collector (to Jaeger in
// memory). Each iteration sends 10,000 traces of 4 spans.
func BenchmarkPipeline(b *testing.B) {
	for _, bc := range []struct {
		name  string
		start func(*testing.B) tiers
	}{{"kntrace-scale-out", scaleOut}, {"single-collector", singleCollector}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			t := bc.start(b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var (
				elapsed                  time.Duration
				cpu, frontCPU, jaegerCPU time.Duration
				rss                      int64
			)
			base, err := t.stored(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				cpu0, _ := usage(b, t.collectors)
				front0, _ := usage(b, t.front)
				j0, err := t.jaeger.Usage()
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := push(ctx, t.endpoints, uint64(i)+uint64(start.UnixNano())); err != nil {
					b.Fatal(err)
				}
				base += benchTraces * spansPerTrace
				// Polled often: the time it takes is the measure.
				if err := waitStored(ctx, t, base, pollEvery); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				cpu1, r := usage(b, t.collectors)
				front1, _ := usage(b, t.front)
				j1, err := t.jaeger.Usage()
				if err != nil {
					b.Fatal(err)
				}
				cpu += cpu1 - cpu0
				frontCPU += front1 - front0
				jaegerCPU += j1.CPU - j0.CPU
				rss = max(rss, r)
			}
			spans := float64(b.N * benchTraces * spansPerTrace)
			b.ReportMetric(spans/elapsed.Seconds(), "spans/s")
			b.ReportMetric(float64(cpu.Microseconds())/spans, "cpu-µs/span")
			b.ReportMetric(float64(jaegerCPU.Microseconds())/spans, "jaeger-cpu-µs/span")
			b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
			b.Logf("%s: of %.1f collector CPU µs per span, %.1f in the tier spans are sent to (agents, or the one collector), %.1f behind it",
				bc.name, float64(cpu.Microseconds())/spans, float64(frontCPU.Microseconds())/spans, float64((cpu-frontCPU).Microseconds())/spans)
		})
	}
}

// BenchmarkTailSampling: what tail sampling costs a gateway. One gateway
// takes 10,000 traces straight from the senders over OTLP/gRPC, with the
// shipped tail_sampling (decision_wait 10s, every trace kept so the same
// spans go out) beside the same gateway without it. heap-B/trace and
// anon-rss-B/trace are the memory each trace takes while held for the
// decision (measured with all of them held; without tail sampling, with all
// of them sent on); cpu-µs/span is the gateway's CPU from the first span in
// to the last span out; policy-µs/trace is tail_sampling's own account of
// the time its four policies took per decision.
func BenchmarkTailSampling(b *testing.B) {
	for _, bc := range []struct {
		name  string
		edits []backends.Edit
	}{
		{"kntrace-tail", []backends.Edit{ratio(b, 100), backends.Set("processors.tail_sampling.decision_wait", "10s")}},
		{"no-tail", []backends.Edit{backends.Set("service.pipelines.traces.processors", []any{"memory_limiter", "batch"})}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			s := startStack(b, stackOptions{gateways: 1, gatewayEdits: bc.edits})
			g := s.gateways[0]
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			var cpu time.Duration
			var heapPer, rssPer, policyPer float64
			stored := 0.0
			b.ResetTimer()
			for i := range b.N {
				m0, err := g.Scrape(ctx)
				if err != nil {
					b.Fatal(err)
				}
				u0, err := g.Usage()
				if err != nil {
					b.Fatal(err)
				}
				if err := pushGRPC(ctx, g.GRPC, uint64(i)); err != nil {
					b.Fatal(err)
				}
				// All held (tail) or all through (no tail): memory now.
				held := func(m backends.Samples) bool {
					if bc.name == "no-tail" {
						return m.Sum(metricSent) >= stored+benchTraces*spansPerTrace
					}
					return m.Sum(metricTracesInMemory) >= benchTraces
				}
				if _, err := scrapeUntil(ctx, g, held); err != nil {
					b.Fatal(err)
				}
				// The collector reads its heap size at most once a second:
				// scrape again past that.
				heldAt := time.Now()
				m1, err := scrapeUntil(ctx, g, func(backends.Samples) bool { return time.Since(heldAt) > 1100*time.Millisecond })
				if err != nil {
					b.Fatal(err)
				}
				u1, err := g.Usage()
				if err != nil {
					b.Fatal(err)
				}
				heapPer += (m1.Sum(metricHeap) - m0.Sum(metricHeap)) / benchTraces
				rssPer += float64(u1.AnonRSS-u0.AnonRSS) / benchTraces
				stored += benchTraces * spansPerTrace
				// Polled seldom: the gateway's CPU is the measure, and
				// the decision wait is long.
				if err := waitStored(ctx, tiers{stored: sentSpans([]*backends.Collector{g})}, stored, 500*time.Millisecond); err != nil {
					b.Fatal(err)
				}
				u2, err := g.Usage()
				if err != nil {
					b.Fatal(err)
				}
				cpu += u2.CPU - u0.CPU
				m2, err := g.Scrape(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if decided := m2.Sum(metricDecided) - m0.Sum(metricDecided); decided > 0 {
					policyPer += (m2.Sum(metricPolicyTime) - m0.Sum(metricPolicyTime)) / decided
				}
			}
			spans := float64(b.N * benchTraces * spansPerTrace)
			b.ReportMetric(float64(cpu.Microseconds())/spans, "cpu-µs/span")
			b.ReportMetric(heapPer/float64(b.N), "heap-B/trace")
			b.ReportMetric(rssPer/float64(b.N), "anon-rss-B/trace")
			if bc.name != "no-tail" {
				b.ReportMetric(policyPer/float64(b.N), "policy-µs/trace")
			}
		})
	}
}

// pushGRPC sends benchTraces traces over OTLP/gRPC to addr.
func pushGRPC(ctx context.Context, addr string, seed uint64) error {
	client, closeFn, err := traceClient(addr)
	if err != nil {
		return err
	}
	defer closeFn()
	return fourSenders(seed, 1, func(batch []*trace) error {
		req, _ := request(batch, 0)
		_, err := client.Export(ctx, req)
		return err
	})
}
