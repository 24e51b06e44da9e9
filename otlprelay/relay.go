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

package otlprelay

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/kntrace/kntrace/conventions"
)

// Stats are a Relay's counters. AcceptedSpans = ForwardedSpans +
// DroppedSpans + the spans still queued.
type Stats struct {
	AcceptedRequests uint64 // requests answered 200
	AcceptedSpans    uint64
	ForwardedSpans   uint64 // spans the collector accepted
	DroppedSpans     uint64 // refused by the collector as invalid, or left at shutdown
	RejectedRequests uint64 // requests answered with an error (full, closing, malformed)
	Retries          uint64 // failed forwards, retried after a backoff
	QueuedPayloads   int
	QueuedBytes      int
}

// Relay receives OTLP/HTTP traces, holds the payloads in a byte-bounded queue
// and forwards them, in order, to the collector, retrying with backoff while it
// is down. It is an http.Handler for conventions.TracesPath; Start also serves it.
type Relay struct {
	cfg config
	fwd forwarder

	mu       sync.Mutex
	queue    [][]byte
	counts   []int
	bytes    int
	stats    Stats
	closing  bool
	lastIn   time.Time
	changed  chan struct{} // closed and replaced whenever the queue changes
	srv      *http.Server
	ln       net.Listener
	quit     chan struct{}
	done     chan struct{}
	runCtx   context.Context
	cancel   context.CancelFunc
	stopOnce sync.Once

	loggedFail atomic.Bool
	loggedDrop atomic.Bool
	loggedFull atomic.Bool
	reg        metric.Registration
}

var _ http.Handler = (*Relay)(nil)

// New checks the configuration and starts the forwarder; Start listens.
func New(opts ...Option) (*Relay, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	fwd := cfg.forwarder
	if fwd == nil {
		fwd, err = newForwarder(cfg.protocol, cfg.endpoint, cfg.headers)
		if err != nil {
			return nil, err
		}
	}
	r := &Relay{cfg: cfg, fwd: fwd, changed: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
	r.runCtx, r.cancel = context.WithCancel(context.Background())
	r.registerMetrics()
	go r.run()
	return r, nil
}

// Start listens on the configured address and serves TracesPath in the
// background. An address in use is an error; tracing never blocks the app, so
// callers usually log it and go on.
func (r *Relay) Start() error {
	ln, err := net.Listen("tcp", r.cfg.addr)
	if err != nil {
		return fmt.Errorf("relay: listen on %s (%s): %w", r.cfg.addr, EnvAddress, err)
	}
	mux := http.NewServeMux()
	mux.Handle(conventions.TracesPath, r)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.srv, r.ln = srv, ln
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// Addr is the address the relay listens on ("" before Start).
func (r *Relay) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return ""
	}
	return r.ln.Addr().String()
}

// Stats returns the counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.QueuedPayloads = len(r.queue)
	st.QueuedBytes = r.bytes
	return st
}
