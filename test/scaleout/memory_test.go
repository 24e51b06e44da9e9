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
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kntrace/kntrace/test/backends"
)

// The gateway of TestBurstStaysWithinMemoryLimit stands for a container
// with a 256 MiB limit, set up as the shipped one is for 2 GiB:
// memory_limiter's limit_percentage 80 and spike_limit_percentage 20 of the
// container's memory become limit_mib 204 (refuse everything and collect
// above it) and spike_limit_mib 51 (refuse above 204-51 = 153 MiB), and
// GOMEMLIMIT is 200 MiB (the shipped 1600 MiB of 2 GiB). A process has no
// container limit to take a percentage of.
const (
	burstContainerMiB = 256
	burstLimitMiB     = burstContainerMiB * 80 / 100
	burstSpikeMiB     = burstContainerMiB * 20 / 100
)

// pad makes each span carry a heavy attribute load (headers, SQL), so that
// ten times the steady rate outgrows the limit on a machine this size.
var pad = strings.Repeat("x", 2048)

// padded is a trace whose spans carry pad.
func padded(rng *rand.Rand) *trace {
	tr := newTrace(rng, plain, 1, time.Now())
	for i := range tr.spans {
		tr.spans[i].attrs = append(tr.spans[i].attrs, strAttr("db.statement", pad))
	}
	return tr
}

type burstCounts struct {
	mu                               sync.Mutex
	refusedCodes                     map[codes.Code]int
	otherErrors                      []string
	heapMax, rssMax, anonMax, heapAt float64
}

// TestBurstStaysWithinMemoryLimit is the fifth proof: a gateway
// holding traces for the shipped decision_wait (10s) takes a steady rate,
// then ten times that rate, then the steady rate again. Its heap never
// passes memory_limiter's limit; the spans it cannot hold are refused with
// a retryable gRPC error that the sender counts, and that the gateway counts
// too (otelcol_receiver_refused_spans), one for one; it never dies, and it
// accepts the steady rate again after the burst.
func TestBurstStaysWithinMemoryLimit(t *testing.T) {
	s := startStack(t, stackOptions{gateways: 1,
		gatewayEdits: []backends.Edit{
			backends.Set("processors.tail_sampling.decision_wait", "10s"),
			backends.Delete("processors.memory_limiter.limit_percentage"),
			backends.Delete("processors.memory_limiter.spike_limit_percentage"),
			backends.Set("processors.memory_limiter.limit_mib", burstLimitMiB),
			backends.Set("processors.memory_limiter.spike_limit_mib", burstSpikeMiB),
		},
		gatewayEnv: []string{fmt.Sprintf("GOMEMLIMIT=%dMiB", burstContainerMiB*78/100)},
	})
	g := s.gateways[0]
	client, closeClient, err := traceClient(g.GRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeClient)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	c := &burstCounts{refusedCodes: map[codes.Code]int{}}
	// Watch the gateway's heap (its own metric) and resident memory.
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			sctx, scancel := context.WithTimeout(ctx, time.Second)
			m, err := g.Scrape(sctx)
			scancel()
			u, uerr := g.Usage()
			c.mu.Lock()
			if err == nil {
				c.heapAt = m.Sum(metricHeap)
				c.heapMax = max(c.heapMax, c.heapAt)
			}
			if uerr == nil {
				c.rssMax = max(c.rssMax, float64(u.PeakRSS))
				c.anonMax = max(c.anonMax, float64(u.AnonRSS))
			}
			c.mu.Unlock()
		}
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	// phase sends tracesPerSecond for d, in requests of 20 traces every
	// 20/tracesPerSecond seconds, from 4 senders. With settle > 0 it ends
	// early, once no export has been refused for settle, and reports how
	// far into the phase the last refusal came (zero if none).
	type outcome struct {
		accepted, refused int
		lastRefusal       time.Duration
		settled           bool
	}
	phase := func(name string, tracesPerSecond int, d, settle time.Duration) outcome {
		const perRequest = 20
		interval := time.Second * perRequest / time.Duration(tracesPerSecond)
		var wg sync.WaitGroup
		var pmu sync.Mutex
		var o outcome
		start := time.Now()
		end := start.Add(d)
		settled := func() bool { // under pmu
			o.settled = settle > 0 && time.Since(start.Add(o.lastRefusal)) >= settle
			return o.settled
		}
		for w := range 4 {
			wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(interval * 4)
				defer tick.Stop()
				for time.Now().Before(end) {
					<-tick.C
					batch := make([]*trace, perRequest)
					for i := range batch {
						batch[i] = padded(wrng)
					}
					req, _ := request(batch, 0)
					_, err := client.Export(ctx, req)
					pmu.Lock()
					switch code := status.Code(err); {
					case err == nil:
						o.accepted += perRequest * spansPerTrace
					case code == codes.Unavailable || code == codes.ResourceExhausted:
						o.refused += perRequest * spansPerTrace
						o.lastRefusal = time.Since(start)
						c.mu.Lock()
						c.refusedCodes[code]++
						c.mu.Unlock()
					default:
						c.mu.Lock()
						c.otherErrors = append(c.otherErrors, err.Error())
						c.mu.Unlock()
					}
					done := settled()
					pmu.Unlock()
					if done {
						return
					}
				}
			}()
		}
		wg.Wait()
		c.mu.Lock()
		t.Logf("%s: %d traces/s for %s: %d spans accepted, %d refused (the last %s into the phase); heap now %.0f MiB, peak %.0f MiB; peak RSS %.0f MiB, anonymous %.0f MiB",
			name, tracesPerSecond, time.Since(start).Round(time.Second), o.accepted, o.refused, o.lastRefusal.Round(time.Millisecond),
			c.heapAt/(1<<20), c.heapMax/(1<<20), c.rssMax/(1<<20), c.anonMax/(1<<20))
		c.mu.Unlock()
		return o
	}
	const steady = 200
	// Recovered means a settle window at the steady rate without one
	// refusal, within recoverWithin of the burst's end: the gateway holds
	// the burst's traces for decision_wait, then exports and frees them.
	const settle, recoverWithin = 5 * time.Second, 40 * time.Second
	r1 := phase("steady", steady, 5*time.Second, 0).refused
	r2 := phase("burst", 10*steady, 10*time.Second, 0).refused
	again := phase("steady again", steady, recoverWithin, settle)
	r3 := again.refused
	close(stop)
	<-watched

	m, err := g.Scrape(ctx)
	if err != nil {
		t.Fatalf("the gateway does not answer after the burst: %v", err)
	}
	if !g.Running() {
		t.Fatal("the gateway died during the burst")
	}
	counted := m.Sum(metricRefused)
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Logf("refused: sender %d spans (gRPC codes %v), gateway counted %.0f; heap peak %.0f MiB of memory_limiter's %d MiB; RSS peak %.0f MiB, anonymous %.0f MiB of the %d MiB container",
		r1+r2+r3, c.refusedCodes, counted, c.heapMax/(1<<20), burstLimitMiB, c.rssMax/(1<<20), c.anonMax/(1<<20), burstContainerMiB)
	if len(c.otherErrors) > 0 {
		t.Errorf("%d exports failed otherwise than refused (first: %s)", len(c.otherErrors), c.otherErrors[0])
	}
	if r1 != 0 {
		t.Errorf("%d spans refused at the steady rate, want none: the test's steady rate is too high for its limit", r1)
	}
	if r2 == 0 {
		t.Error("no span refused during the burst: the burst never reached memory_limiter's limit, so the test proves nothing")
	}
	if float64(r1+r2+r3) != counted {
		t.Errorf("the sender saw %d spans refused, the gateway counted %.0f: every refusal must be counted", r1+r2+r3, counted)
	}
	if c.heapMax > burstLimitMiB<<20 {
		t.Errorf("heap peaked at %.0f MiB, above memory_limiter's limit of %d MiB", c.heapMax/(1<<20), burstLimitMiB)
	}
	// The binary's own pages are file-backed and reclaimable; what is not
	// must fit the container, or it would be killed.
	if c.anonMax > burstContainerMiB<<20 {
		t.Errorf("anonymous memory peaked at %.0f MiB, above the %d MiB container: it would be OOM-killed", c.anonMax/(1<<20), burstContainerMiB)
	}
	if !again.settled || again.accepted == 0 {
		t.Errorf("after the burst: %d spans accepted and %d refused at the steady rate, the last refusal %s into it; want %s without a refusal within %s: the gateway did not recover",
			again.accepted, again.refused, again.lastRefusal.Round(time.Millisecond), settle, recoverWithin)
	} else {
		t.Logf("recovered: the last refusal %s after the burst, then %s at the steady rate without one", again.lastRefusal.Round(time.Millisecond), settle)
	}
}
