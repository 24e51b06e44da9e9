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

package plane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/serving/pkg/autoscaler/metrics"
	"knative.dev/serving/pkg/autoscaler/statserver"
)

// AutoscalerAddr is where the activator dials the autoscaler
// (ws://autoscaler.knative-serving.svc.cluster.local:8080, resolved to
// loopback in the activator's mount namespace).
const AutoscalerAddr = "127.0.0.1:8080"

// scaleTarget is what the autoscaler scales: the pod runner.
type scaleTarget interface {
	// scale sets the number of pods of revision key; it returns once the
	// change is under way.
	scale(ctx context.Context, key types.NamespacedName, replicas int) error
	replicas(key types.NamespacedName) int
}

// autoscaler receives the activator's stat messages through Knative's own
// stat server (WireStatMessages over a websocket) and scales revisions from
// zero on demand and to zero after an idle period.
type autoscaler struct {
	srv    *statserver.Server
	stats  chan metrics.StatMessage
	target scaleTarget
	idle   time.Duration
	logf   func(format string, args ...any)

	mu         sync.Mutex
	lastActive map[types.NamespacedName]time.Time
	received   int

	cancel  context.CancelFunc
	serving bool
	done    sync.WaitGroup
}

// startAutoscaler listens on addr (failing with a clear message if it is
// taken) and starts the scaling loops.
func startAutoscaler(addr string, target scaleTarget, idle time.Duration, logger *zap.SugaredLogger, logf func(string, ...any)) (*autoscaler, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("autoscaler endpoint: %s is in use (the activator dials the autoscaler on port 8080; stop what listens there): %w", addr, err)
	}
	l.Close()
	a := &autoscaler{
		stats:      make(chan metrics.StatMessage, 128),
		target:     target,
		idle:       idle,
		logf:       logf,
		lastActive: map[types.NamespacedName]time.Time{},
	}
	a.srv = statserver.New(addr, a.stats, logger, nil)
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	serveErr := make(chan error, 1)
	a.done.Add(3)
	go func() {
		defer a.done.Done()
		if err := a.srv.ListenAndServe(); err != nil {
			serveErr <- err
		}
	}()
	go func() { defer a.done.Done(); a.consume(ctx) }()
	go func() { defer a.done.Done(); a.scaleDownLoop(ctx) }()
	// The stat server has no readiness signal of its own: wait until the
	// port accepts connections.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			a.serving = true
			return a, nil
		}
		select {
		case err := <-serveErr:
			a.stop()
			return nil, fmt.Errorf("autoscaler endpoint on %s: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			a.stop()
			return nil, fmt.Errorf("autoscaler endpoint on %s did not accept connections within 5s", addr)
		}
	}
}

func (a *autoscaler) consume(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case sm := <-a.stats:
			a.observe(ctx, sm)
		}
	}
}

// observe handles one stat: demand for a revision at zero scales it to one.
func (a *autoscaler) observe(ctx context.Context, sm metrics.StatMessage) {
	demand := sm.Stat.AverageConcurrentRequests > 0 || sm.Stat.RequestCount > 0
	a.mu.Lock()
	a.received++
	if demand {
		a.lastActive[sm.Key] = time.Now()
	}
	a.mu.Unlock()
	if demand && a.target.replicas(sm.Key) == 0 {
		a.logf("autoscaler: demand for %s (concurrency %.1f, requests %.0f from %s): scaling from zero",
			sm.Key, sm.Stat.AverageConcurrentRequests, sm.Stat.RequestCount, sm.Stat.PodName)
		if err := a.target.scale(ctx, sm.Key, 1); err != nil && !errors.Is(err, context.Canceled) {
			a.logf("autoscaler: scale %s to 1: %v", sm.Key, err)
		}
	}
}

// scaleDownLoop scales revisions without demand for the idle period to zero.
func (a *autoscaler) scaleDownLoop(ctx context.Context) {
	period := max(a.idle/4, 100*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.mu.Lock()
		var idle []types.NamespacedName
		for k, last := range a.lastActive {
			if time.Since(last) >= a.idle {
				idle = append(idle, k)
				delete(a.lastActive, k)
			}
		}
		a.mu.Unlock()
		for _, k := range idle {
			if a.target.replicas(k) == 0 {
				continue
			}
			a.logf("autoscaler: %s idle for %s: scaling to zero", k, a.idle)
			if err := a.target.scale(ctx, k, 0); err != nil && !errors.Is(err, context.Canceled) {
				a.logf("autoscaler: scale %s to 0: %v", k, err)
			}
		}
	}
}

// touch records demand for key now (a pod started by other means, e.g.
// ScaleTo, also idles out).
func (a *autoscaler) touch(key types.NamespacedName) {
	a.mu.Lock()
	a.lastActive[key] = time.Now()
	a.mu.Unlock()
}

// statCount is the number of stat messages received so far.
func (a *autoscaler) statCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.received
}

func (a *autoscaler) stop() {
	if a == nil {
		return
	}
	// Shut the server down first: its handlers block sending to a.stats
	// until consume takes the message.
	if a.serving {
		a.srv.Shutdown(2 * time.Second)
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.done.Wait()
}
