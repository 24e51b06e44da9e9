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

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kntrace/kntrace/test/backends"
)

// Load of one benchmark operation: requests sent by concurrent clients over
// keep-alive connections, after a warm-up that also takes the cold start.
const (
	benchRequests    = 2000
	benchConcurrency = 8
	benchWarmup      = 200
	benchStarts      = 5 // queue-proxy starts per start-up operation
)

// BenchmarkQueueProxy measures a running queue-proxy in front of the test
// app, each side with the environment Knative's code gives it, spans
// exported to a real Collector: throughput (req/s) and latency percentiles
// (p50-ms, p99-ms) of benchRequests requests per operation.
func BenchmarkQueueProxy(b *testing.B) {
	_, app := built(b)
	stack := backends.Start(b, true)
	for _, rate := range []string{"1", "0"} {
		for _, side := range []string{sideKntrace, sideUpstream} {
			b.Run(fmt.Sprintf("sampling=%s/%s", rate, side), func(b *testing.B) {
				b.ReportAllocs()
				ns := newNetns(b)
				fwd := newForwarder(b, ns.hostIP, stack.Collector.GRPC)
				spec := makePod(b, revisionSpec{observability: tracingSpec(fwd.Addr(), rate), concurrency: 0})
				p := startPod(b, ns, spec, podOptions{queueBinary: queueBinary(b, side), appBinary: app})
				if _, err := load(p, benchWarmup); err != nil {
					b.Fatal(err)
				}
				var all []time.Duration
				var elapsed time.Duration
				b.ResetTimer()
				for range b.N {
					start := time.Now()
					lat, err := load(p, benchRequests)
					elapsed += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					all = append(all, lat...)
				}
				b.StopTimer()
				slices.Sort(all)
				b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
				b.ReportMetric(ms(percentile(all, 0.50)), "p50-ms")
				b.ReportMetric(ms(percentile(all, 0.99)), "p99-ms")
			})
		}
	}
}

// BenchmarkQueueProxyStartup measures a queue-proxy's start to its first
// passing readiness probe (the app already listening, tracing on at rate
// 1): ready-ms is the median of benchStarts starts per operation.
func BenchmarkQueueProxyStartup(b *testing.B) {
	_, app := built(b)
	stack := backends.Start(b, true)
	for _, side := range []string{sideKntrace, sideUpstream} {
		b.Run(side, func(b *testing.B) {
			b.ReportAllocs()
			ns := newNetns(b)
			fwd := newForwarder(b, ns.hostIP, stack.Collector.GRPC)
			spec := makePod(b, revisionSpec{observability: tracingSpec(fwd.Addr(), "1"), concurrency: 0})
			p := startPod(b, ns, spec, podOptions{queueBinary: queueBinary(b, side), appBinary: app, appFirst: true})
			var starts []time.Duration
			b.ResetTimer()
			for range b.N {
				for range benchStarts {
					starts = append(starts, p.restartQueue(b))
				}
			}
			b.StopTimer()
			slices.Sort(starts)
			b.ReportMetric(ms(percentile(starts, 0.5)), "ready-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

// load sends n requests through the pod's queue-proxy from
// benchConcurrency clients and returns each request's latency.
func load(p *pod, n int) ([]time.Duration, error) {
	url := p.url("/")
	lat := make([]time.Duration, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int, n)
	)
	for i := range n {
		next <- i
	}
	close(next)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				start := time.Now()
				resp, err := p.client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(start)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("request %d: %w", i, err)
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	return lat, first
}
