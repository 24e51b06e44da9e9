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
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kntrace/kntrace/test/backends"
)

// binomialBounds is the smallest interval [lo, hi] that a Binomial(n, p)
// count falls outside of with probability at most alpha (alpha/2 a side).
func binomialBounds(n int, p, alpha float64) (lo, hi int) {
	switch {
	case p <= 0:
		return 0, 0
	case p >= 1:
		return n, n
	}
	logPMF := func(k int) float64 {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		c, _ := math.Lgamma(float64(n - k + 1))
		return a - b - c + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p)
	}
	cdf := 0.0
	for lo = 0; lo <= n; lo++ {
		if cdf+math.Exp(logPMF(lo)) > alpha/2 {
			break
		}
		cdf += math.Exp(logPMF(lo))
	}
	tail := 0.0
	for hi = n; hi >= 0; hi-- {
		if tail+math.Exp(logPMF(hi)) > alpha/2 {
			break
		}
		tail += math.Exp(logPMF(hi))
	}
	return lo, hi
}

func TestBinomialBounds(t *testing.T) {
	for _, tc := range []struct {
		n          int
		p, alpha   float64
		wantLo, hi int
	}{
		// Mean 10, sd 3.1: a 1-in-10,000 interval.
		{n: 1000, p: 0.01, alpha: 1e-4, wantLo: 1, hi: 24},
		// Certain outcomes.
		{n: 50, p: 1, alpha: 1e-4, wantLo: 50, hi: 50},
	} {
		lo, hi := binomialBounds(tc.n, tc.p, tc.alpha)
		if lo != tc.wantLo || hi != tc.hi {
			t.Errorf("binomialBounds(%d, %v, %v) = [%d, %d], want [%d, %d]", tc.n, tc.p, tc.alpha, lo, hi, tc.wantLo, tc.hi)
		}
	}
}

// TestTailSamplingKeepsColdStarts is the first proof: two gateways,
// two agents, Jaeger; 1,000 traces, 20 of them cold starts, every span
// sampled at the head (rate 1), the shipped tail policies with the ratio at
// 1%. Every cold-start trace is in Jaeger whole (every span, none whose
// parent is missing), and the share of the other 980 kept is within the
// binomial bounds of 1% (a 1-in-1,000 interval, [1, 22]: keeping none or
// 5% fails). Error and slow traces,
// sent after, are all kept too.
func TestTailSamplingKeepsColdStarts(t *testing.T) {
	s := startStack(t, stackOptions{gateways: 2, agents: 2,
		gatewayEdits: []backends.Edit{ratio(t, 1)}})
	seed := uint64(time.Now().UnixNano())
	t.Logf("trace IDs from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	now := time.Now()
	var traces []*trace
	for i := range 1000 {
		k := plain
		if i%50 == 7 {
			k = coldStart
		}
		traces = append(traces, newTrace(rng, k, 2, now))
	}
	for range 20 {
		traces = append(traces, newTrace(rng, failed, 2, now), newTrace(rng, slow, 2, now))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < len(traces); i += 50 {
		if err := s.send(ctx, traces[i:min(i+50, len(traces))]); err != nil {
			t.Fatalf("an agent refused an export: %v", err)
		}
	}
	s.settle(t, len(traces), 60*time.Second)

	kept := map[kind]int{}
	total := map[kind]int{}
	for _, tr := range traces {
		got, err := s.lookup(ctx, tr)
		if err != nil {
			t.Fatal(err)
		}
		total[tr.kind]++
		if got.notFound {
			if tr.kind != plain {
				t.Errorf("trace %s (kind %d) is not in Jaeger: the tail policies must keep it", tr.hexID(), tr.kind)
			}
			continue
		}
		kept[tr.kind]++
		// Every kept trace is whole: a trace split over the gateways would
		// be decided twice, and a plain one kept in part.
		if got.spans != spansPerTrace || got.orphans != 0 {
			t.Errorf("trace %s (kind %d): %d of %d spans in Jaeger, %d orphans", tr.hexID(), tr.kind, got.spans, spansPerTrace, got.orphans)
		}
	}
	lo, hi := binomialBounds(total[plain], 0.01, 1e-3)
	t.Logf("kept: %d of %d cold starts, %d of %d errors, %d of %d slow, %d of %d others (binomial bounds of 1%%: [%d, %d])",
		kept[coldStart], total[coldStart], kept[failed], total[failed], kept[slow], total[slow], kept[plain], total[plain], lo, hi)
	if kept[coldStart] != 20 {
		t.Errorf("%d of 20 cold-start traces kept, want all", kept[coldStart])
	}
	if kept[plain] < lo || kept[plain] > hi {
		t.Errorf("%d of %d other traces kept, outside [%d, %d], the 1-in-1,000 bounds of a 1%% ratio", kept[plain], total[plain], lo, hi)
	}
}

// TestOneGatewayPerTrace is the second proof: the spans of every
// trace come in through both agents, and each trace reaches exactly one
// gateway. Each gateway counts the trace IDs it sees for the first time
// (new_trace_id_received); their sum equals the number of traces only if no
// trace was seen by both. Both gateways get a fair share. In the control run
// each agent sends to a gateway of its own, as agents without a shared ring
// would, so every trace is split and the assertion can fail.
func TestOneGatewayPerTrace(t *testing.T) {
	const n = 400
	for _, tc := range []struct {
		name      string
		own       bool
		wantSplit bool
	}{
		{name: "shipped: one trace-ID ring over both gateways"},
		{name: "control: a gateway per agent splits every trace", own: true, wantSplit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startStack(t, stackOptions{gateways: 2, agents: 2, ownGateway: tc.own,
				// Keep every trace: completeness in Jaeger is checked too.
				gatewayEdits: []backends.Edit{ratio(t, 100)}})
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
			var traces []*trace
			for range n {
				traces = append(traces, newTrace(rng, plain, 2, time.Now()))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for i := 0; i < n; i += 40 {
				if err := s.send(ctx, traces[i:i+40]); err != nil {
					t.Fatal(err)
				}
			}
			s.settle(t, n, 60*time.Second)
			gw, err := scrapeAll(ctx, s.gateways)
			if err != nil {
				t.Fatal(err)
			}
			seen := sum(gw, metricNewTraces)
			per := []float64{gw[0].Sum(metricNewTraces), gw[1].Sum(metricNewTraces)}
			t.Logf("%d traces, gateways saw %v new trace IDs (%v in all)", n, per, seen)
			if tc.wantSplit {
				if seen != 2*n {
					t.Errorf("a gateway per agent: the gateways saw %v trace IDs for %d traces, want %d (every trace at both)", seen, n, 2*n)
				}
				return
			}
			if seen != n {
				t.Errorf("the gateways saw %v trace IDs for %d traces: a trace reached both gateways", seen, n)
			}
			for i, c := range per {
				if c < 0.2*n || c > 0.8*n {
					t.Errorf("gateway %d saw %v of %d traces, want 20-80%%: the trace-ID hash ring should spread them", i, c, n)
				}
			}
			for _, tr := range traces {
				got, err := s.lookup(ctx, tr)
				if err != nil {
					t.Fatal(err)
				}
				if got.notFound || got.spans != spansPerTrace || got.orphans != 0 {
					t.Errorf("trace %s: %+v in Jaeger, want all %d spans", tr.hexID(), got, spansPerTrace)
				}
			}
		})
	}
}
