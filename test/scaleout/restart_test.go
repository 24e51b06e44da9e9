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
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/kntrace/kntrace/test/backends"
)

// runResult is what a run with restarts delivered.
type runResult struct {
	traces, acceptedSpans, lostSpans int
	// lostOutsideWindow counts spans lost of traces sent outside the
	// crashed gateway's decision window: the persistent queues must have
	// kept all of these.
	lostOutsideWindow int
}

// restartRun drives traffic through two agents and two gateways for ten
// seconds while, in order: Jaeger crashes (t=2s, so that the gateways'
// queues fill); gateway 0 is stopped (t=4s, SIGTERM, or SIGKILL with
// crash); agent 0 crashes and restarts at once (t=5s, while its queue holds
// the spans for gateway 0); gateway 0 starts again (t=6s); Jaeger starts
// again (t=7s). Then it waits for the pipeline to drain and counts, per
// trace, the spans the agents accepted that Jaeger does not hold.
func restartRun(t *testing.T, persistent, crash bool) runResult {
	var gatewayEdits, agentEdits []backends.Edit
	gatewayEdits = append(gatewayEdits, ratio(t, 100))
	if !persistent {
		gatewayEdits = append(gatewayEdits, backends.Delete("exporters.otlp_grpc/jaeger.sending_queue.storage"))
		agentEdits = append(agentEdits, backends.Delete("exporters.load_balancing.sending_queue.storage"))
	}
	s := startStack(t, stackOptions{gateways: 2, agents: 2, gatewayEdits: gatewayEdits, agentEdits: agentEdits})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var (
		mu     sync.Mutex
		traces []*trace
		done   = make(chan struct{})
	)
	start := time.Now()
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for time.Since(start) < 10*time.Second {
			<-tick.C
			batch := make([]*trace, 10)
			for i := range batch {
				batch[i] = newTrace(rng, plain, 2, time.Now())
			}
			// An agent that is restarting refuses: those spans were never
			// accepted and are not counted.
			_ = s.send(ctx, batch)
			mu.Lock()
			traces = append(traces, batch...)
			mu.Unlock()
		}
	}()
	at := func(d time.Duration) {
		if w := time.Until(start.Add(d)); w > 0 {
			time.Sleep(w) // the schedule of the run, not a synchronisation
		}
	}
	at(2 * time.Second)
	s.jaeger.Kill()
	at(4 * time.Second)
	stoppedAt := time.Now()
	if crash {
		s.gateways[0].Kill()
	} else {
		s.gateways[0].Stop()
	}
	at(5 * time.Second)
	s.agents[0].Kill()
	if err := s.agents[0].Start(ctx); err != nil {
		t.Fatal(err)
	}
	at(6 * time.Second)
	if err := s.gateways[0].Start(ctx); err != nil {
		t.Fatal(err)
	}
	at(7 * time.Second)
	if err := s.jaeger.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	s.settle(t, 1, 90*time.Second)

	// A crashed gateway loses the traces it held undecided: those whose
	// first span reached it within decision_wait before the crash (plus a
	// second for the agents' queues).
	windowStart, windowEnd := stoppedAt.Add(-decisionWait-time.Second), stoppedAt.Add(500*time.Millisecond)
	var r runResult
	for _, tr := range traces {
		if tr.accepted == 0 {
			continue
		}
		r.traces++
		r.acceptedSpans += tr.accepted
		got, err := s.lookup(ctx, tr)
		if err != nil {
			t.Fatal(err)
		}
		lost := max(tr.accepted-got.spans, 0)
		r.lostSpans += lost
		if lost > 0 && (tr.sentAt.Before(windowStart) || tr.sentAt.After(windowEnd)) {
			r.lostOutsideWindow += lost
		}
	}
	return r
}

// TestRestartDuringARun is the third proof. With the shipped
// persistent queues, a gateway stopped as Kubernetes stops a pod (SIGTERM)
// and an agent that crashes lose no span the agents accepted, even with
// Jaeger down meanwhile. A gateway that crashes (SIGKILL) loses only the
// traces it held undecided in tail_sampling's memory, the decision window
// just before the crash, and nothing else. The in-memory queues' figures
// are reported beside them.
func TestRestartDuringARun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		persistent bool
		crash      bool
	}{
		{name: "gateway stopped, persistent queues", persistent: true},
		{name: "gateway stopped, in-memory queues"},
		{name: "gateway crashed, persistent queues", persistent: true, crash: true},
		{name: "gateway crashed, in-memory queues", crash: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := restartRun(t, tc.persistent, tc.crash)
			t.Logf("%d traces, %d spans accepted by the agents, %d lost (%.2f%%), %d of them outside the crashed gateway's decision window",
				r.traces, r.acceptedSpans, r.lostSpans, 100*float64(r.lostSpans)/float64(max(r.acceptedSpans, 1)), r.lostOutsideWindow)
			if r.acceptedSpans == 0 {
				t.Fatal("no span accepted: the run sent nothing")
			}
			switch {
			case tc.persistent && !tc.crash && r.lostSpans != 0:
				t.Errorf("%d spans lost with persistent queues and a graceful stop, want 0", r.lostSpans)
			case tc.persistent && tc.crash && r.lostOutsideWindow != 0:
				t.Errorf("%d spans lost outside the crashed gateway's decision window with persistent queues, want 0", r.lostOutsideWindow)
			}
		})
	}
}
