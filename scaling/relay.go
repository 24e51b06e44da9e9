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

package scaling

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Relay defaults. Each can be changed with an option and, where named, an
// environment variable.
const (
	// DefaultRelayAddress (KNTRACE_RELAY_ADDRESS) is where OpenTelemetry SDKs
	// in every language send OTLP/HTTP by default.
	DefaultRelayAddress = "127.0.0.1:4318"
	// DefaultRelayMaxBytes (KNTRACE_RELAY_MAX_BYTES) bounds the queue of
	// payloads (protobuf size after decompression and JSON conversion).
	DefaultRelayMaxBytes = 16 << 20
	// DefaultRelayMaxRequestBytes (KNTRACE_RELAY_MAX_REQUEST_BYTES) bounds one
	// request body after decompression.
	DefaultRelayMaxRequestBytes = 4 << 20
	// DefaultForwardBatchBytes bounds one forwarded export: queued payloads are
	// concatenated (protobuf concatenation merges their resource spans) up to
	// this size.
	DefaultForwardBatchBytes = 1 << 20
	// DefaultForwardTimeout bounds one forwarded export.
	DefaultForwardTimeout = 10 * time.Second
	// DefaultRetryAfter is the Retry-After the relay answers when full.
	DefaultRetryAfter = time.Second
	// DefaultDrainQuietPeriod is how long Drain waits, with the queue empty,
	// for more spans from an app that is flushing.
	DefaultDrainQuietPeriod = 500 * time.Millisecond
	// TracesPath is the OTLP/HTTP traces path.
	TracesPath = "/v1/traces"
)

type relayConfig struct {
	shared
	addr            string
	endpoint        string
	protocol        Protocol
	headers         map[string]string
	maxBytes        int
	maxRequestBytes int
	forwardBytes    int
	forwardTimeout  time.Duration
	retryAfter      time.Duration
	quietPeriod     time.Duration
	forwarder       forwarder
}

// RelayOption configures a Relay.
type RelayOption interface{ applyRelay(*relayConfig) }

type relayOption func(*relayConfig)

func (f relayOption) applyRelay(c *relayConfig) { f(c) }

// WithAddress sets the listen address (default DefaultRelayAddress; use
// "127.0.0.1:0" for a free port, then Addr).
func WithAddress(addr string) RelayOption {
	return relayOption(func(c *relayConfig) { c.addr = addr })
}

// WithCollector sets where the relay forwards, as Knative's
// config-observability says it: protocol "grpc" with an endpoint such as
// http://collector:4317 (https:// for TLS), or "http/protobuf" with a URL
// such as http://collector:4318/v1/traces (the path defaults to /v1/traces).
func WithCollector(protocol Protocol, endpoint string) RelayOption {
	return relayOption(func(c *relayConfig) { c.protocol, c.endpoint = protocol, endpoint })
}

// WithHeaders adds headers (gRPC metadata) to every forwarded export.
func WithHeaders(h map[string]string) RelayOption {
	return relayOption(func(c *relayConfig) { c.headers = h })
}

// WithQueueBytes bounds the queue of payloads.
func WithQueueBytes(n int) RelayOption {
	return relayOption(func(c *relayConfig) { c.maxBytes = n })
}

// WithMaxRequestBytes bounds one request body after decompression.
func WithMaxRequestBytes(n int) RelayOption {
	return relayOption(func(c *relayConfig) { c.maxRequestBytes = n })
}

// WithForwardBatchBytes bounds one forwarded export.
func WithForwardBatchBytes(n int) RelayOption {
	return relayOption(func(c *relayConfig) { c.forwardBytes = n })
}

// WithForwardTimeout bounds one forwarded export.
func WithForwardTimeout(d time.Duration) RelayOption {
	return relayOption(func(c *relayConfig) { c.forwardTimeout = d })
}

// WithRetryAfter sets the Retry-After answered when the queue is full.
func WithRetryAfter(d time.Duration) RelayOption {
	return relayOption(func(c *relayConfig) { c.retryAfter = d })
}

// WithDrainQuietPeriod sets how long Drain waits with an empty queue for more
// spans before it returns.
func WithDrainQuietPeriod(d time.Duration) RelayOption {
	return relayOption(func(c *relayConfig) { c.quietPeriod = d })
}

// RelayStats are a Relay's counters. AcceptedSpans = ForwardedSpans +
// DroppedSpans + the spans still queued.
type RelayStats struct {
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
// is down. It is an http.Handler for TracesPath; Start also serves it.
type Relay struct {
	cfg relayConfig
	fwd forwarder

	mu       sync.Mutex
	queue    [][]byte
	counts   []int
	bytes    int
	stats    RelayStats
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

// NewRelay checks the configuration and starts the forwarder; Start listens.
func NewRelay(opts ...RelayOption) (*Relay, error) {
	cfg := relayConfig{
		shared:          defaultShared(),
		addr:            DefaultRelayAddress,
		maxBytes:        DefaultRelayMaxBytes,
		maxRequestBytes: DefaultRelayMaxRequestBytes,
		forwardBytes:    DefaultForwardBatchBytes,
		forwardTimeout:  DefaultForwardTimeout,
		retryAfter:      DefaultRetryAfter,
		quietPeriod:     DefaultDrainQuietPeriod,
	}
	for _, o := range opts {
		o.applyRelay(&cfg)
	}
	if a := cfg.getenv(EnvRelayAddress); a != "" {
		cfg.addr = a
	}
	envInt(&cfg.shared, EnvRelayMaxBytes, &cfg.maxBytes)
	envInt(&cfg.shared, EnvRelayMaxRequestBytes, &cfg.maxRequestBytes)
	for _, o := range opts {
		o.applyRelay(&cfg)
	}
	if cfg.maxBytes <= 0 || cfg.maxRequestBytes <= 0 || cfg.forwardBytes <= 0 {
		return nil, errors.New("relay: queue, request and forward batch sizes must be positive")
	}
	if cfg.maxRequestBytes > cfg.maxBytes {
		cfg.maxRequestBytes = cfg.maxBytes
	}
	if cfg.forwardTimeout <= 0 {
		cfg.forwardTimeout = DefaultForwardTimeout
	}
	if cfg.retryAfter < time.Second {
		cfg.retryAfter = time.Second // Retry-After is in whole seconds
	}
	fwd := cfg.forwarder
	if fwd == nil {
		var err error
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
		return fmt.Errorf("relay: listen on %s (%s): %w", r.cfg.addr, EnvRelayAddress, err)
	}
	mux := http.NewServeMux()
	mux.Handle(TracesPath, r)
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
func (r *Relay) Stats() RelayStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.QueuedPayloads = len(r.queue)
	st.QueuedBytes = r.bytes
	return st
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ServeHTTP accepts one OTLP/HTTP export request.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.reject(w, false, http.StatusMethodNotAllowed, "method "+req.Method+" not allowed: OTLP/HTTP uses POST")
		return
	}
	jsonReq, err := isJSON(req.Header.Get("Content-Type"))
	if err != nil {
		r.reject(w, false, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 4*r.cfg.maxRequestBytes {
			buf.Reset()
			bodyPool.Put(buf)
		}
	}()
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(req.Body, int64(r.cfg.maxRequestBytes)+1)); err != nil {
		r.reject(w, jsonReq, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if buf.Len() > r.cfg.maxRequestBytes {
		r.reject(w, jsonReq, http.StatusRequestEntityTooLarge, tooLarge(r.cfg.maxRequestBytes).Error())
		return
	}
	pb, spans, err := DecodePayload(buf.Bytes(), req.Header.Get("Content-Type"), req.Header.Get("Content-Encoding"), r.cfg.maxRequestBytes)
	if err != nil {
		code := http.StatusBadRequest
		var pe *payloadError
		if errors.As(err, &pe) {
			code = pe.status
		}
		r.reject(w, jsonReq, code, err.Error())
		return
	}
	result := enqueueOK
	if len(pb) > 0 {
		if &pb[0] == &buf.Bytes()[0] {
			pb = bytes.Clone(pb) // the pooled buffer is reused
		}
		result = r.enqueue(pb, spans)
	}
	switch result {
	case enqueueFull:
		if r.loggedFull.CompareAndSwap(false, true) {
			r.cfg.logger.Warn("kntrace: relay queue full, answering 429 with Retry-After (logged once)", "max_bytes", r.cfg.maxBytes)
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(r.cfg.retryAfter/time.Second)))
		r.reject(w, jsonReq, http.StatusTooManyRequests, fmt.Sprintf("relay queue full (%d bytes, %s): retry later", r.cfg.maxBytes, EnvRelayMaxBytes))
		return
	case enqueueClosed:
		w.Header().Set("Retry-After", strconv.Itoa(int(r.cfg.retryAfter/time.Second)))
		r.reject(w, jsonReq, http.StatusServiceUnavailable, "relay shutting down")
		return
	}
	if jsonReq {
		w.Header().Set("Content-Type", ContentTypeJSON)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("{}"))
		return
	}
	w.Header().Set("Content-Type", ContentTypeProtobuf)
	w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
}

// reject answers an error with a google.rpc.Status body, as OTLP/HTTP says.
func (r *Relay) reject(w http.ResponseWriter, jsonReq bool, code int, msg string) {
	r.mu.Lock()
	r.stats.RejectedRequests++
	r.mu.Unlock()
	st := &spb.Status{Code: grpcCodeFor(code), Message: msg}
	var body []byte
	if jsonReq {
		w.Header().Set("Content-Type", ContentTypeJSON)
		body, _ = protojson.Marshal(st)
	} else {
		w.Header().Set("Content-Type", ContentTypeProtobuf)
		body, _ = proto.Marshal(st)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func grpcCodeFor(httpCode int) int32 {
	switch httpCode {
	case http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	case http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		return 12 // UNIMPLEMENTED
	}
	return 3 // INVALID_ARGUMENT
}

type enqueueResult int

const (
	enqueueOK enqueueResult = iota
	enqueueFull
	enqueueClosed
)

func (r *Relay) enqueue(pb []byte, spans int) enqueueResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return enqueueClosed
	}
	if r.bytes+len(pb) > r.cfg.maxBytes {
		return enqueueFull
	}
	r.queue = append(r.queue, pb)
	r.counts = append(r.counts, spans)
	r.bytes += len(pb)
	r.stats.AcceptedRequests++
	r.stats.AcceptedSpans += uint64(spans)
	r.lastIn = time.Now()
	r.notifyLocked()
	return enqueueOK
}

func (r *Relay) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// run forwards queued payloads in order.
func (r *Relay) run() {
	defer close(r.done)
	var (
		batch   []byte
		attempt int
	)
	for {
		r.mu.Lock()
		changed := r.changed
		k, size, spans := 0, 0, 0
		for k < len(r.queue) && (k == 0 || size+len(r.queue[k]) <= r.cfg.forwardBytes) {
			size += len(r.queue[k])
			spans += r.counts[k]
			k++
		}
		var payload []byte
		switch {
		case k == 1:
			payload = r.queue[0]
		case k > 1:
			batch = batch[:0]
			for _, p := range r.queue[:k] {
				batch = append(batch, p...)
			}
			payload = batch
		}
		r.mu.Unlock()
		if k == 0 {
			select {
			case <-changed:
				continue
			case <-r.quit:
				return
			}
		}

		ctx, cancel := context.WithTimeout(r.runCtx, r.cfg.forwardTimeout)
		err := r.fwd.forward(ctx, payload)
		cancel()
		var perm *permanentError
		switch {
		case err == nil:
			attempt = 0
			r.remove(k, spans, false)
			continue
		case errors.As(err, &perm):
			attempt = 0
			r.remove(k, spans, true)
			if r.loggedDrop.CompareAndSwap(false, true) {
				r.cfg.logger.Warn("kntrace: collector refused spans as invalid, dropping them (logged once)", "error", err)
			}
			continue
		}
		attempt++
		r.mu.Lock()
		r.stats.Retries++
		r.mu.Unlock()
		if r.loggedFail.CompareAndSwap(false, true) {
			r.cfg.logger.Warn("kntrace: forwarding spans to the collector failed, holding them and retrying (logged once)", "error", err)
		}
		wait := r.cfg.backoff.delay(attempt, rand.Float64())
		var ra *retryAfterError
		if errors.As(err, &ra) && ra.after > wait {
			wait = min(ra.after, r.cfg.backoff.Max*4)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.quit:
			t.Stop()
			return
		}
	}
}

func (r *Relay) remove(k, spans int, dropped bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range k {
		r.bytes -= len(r.queue[i])
	}
	clear(r.queue[:k])
	r.queue = r.queue[k:]
	r.counts = r.counts[k:]
	if len(r.queue) == 0 {
		r.queue, r.counts = nil, nil // let the backing arrays go
	}
	if dropped {
		r.stats.DroppedSpans += uint64(spans)
	} else {
		r.stats.ForwardedSpans += uint64(spans)
	}
	r.notifyLocked()
}

// Drain keeps accepting and returns once the queue has been empty, with no
// new payload, for the quiet period (the app has flushed), or when ctx ends
// (then with an error naming what is still queued).
func (r *Relay) Drain(ctx context.Context) error {
	for {
		r.mu.Lock()
		changed := r.changed
		n := len(r.queue)
		idle := time.Since(r.lastIn)
		r.mu.Unlock()
		var wake <-chan time.Time
		if n == 0 {
			if idle >= r.cfg.quietPeriod {
				return nil
			}
			t := time.NewTimer(r.cfg.quietPeriod - idle)
			defer t.Stop()
			wake = t.C
		}
		select {
		case <-changed:
		case <-wake:
		case <-r.done:
			return r.queuedErr(ctx)
		case <-ctx.Done():
			return r.queuedErr(ctx)
		}
	}
}

func (r *Relay) queuedErr(ctx context.Context) error {
	st := r.Stats()
	if st.QueuedPayloads == 0 {
		return nil
	}
	err := ctx.Err()
	if err == nil {
		err = errors.New("relay stopped")
	}
	return fmt.Errorf("relay drain: %d payloads (%d bytes) still queued: %w", st.QueuedPayloads, st.QueuedBytes, err)
}

// Shutdown drains (see Drain), then stops accepting (new requests get 503),
// forwards what is left until ctx ends, and stops. Payloads still queued then
// are dropped and counted.
func (r *Relay) Shutdown(ctx context.Context) error {
	var err error
	r.stopOnce.Do(func() {
		drainErr := r.Drain(ctx)
		r.mu.Lock()
		r.closing = true
		srv := r.srv
		r.mu.Unlock()
		var srvErr error
		if srv != nil {
			srvErr = srv.Shutdown(ctx)
			if srvErr != nil {
				srv.Close()
			}
		}
		if drainErr == nil {
			// payloads of requests that were in flight when the server closed
		wait:
			for {
				r.mu.Lock()
				n, changed := len(r.queue), r.changed
				r.mu.Unlock()
				if n == 0 {
					break
				}
				select {
				case <-changed:
				case <-ctx.Done():
					break wait
				}
			}
		}
		close(r.quit)
		r.cancel()
		<-r.done
		r.mu.Lock()
		var left int
		for _, c := range r.counts {
			left += c
		}
		r.stats.DroppedSpans += uint64(left)
		r.queue, r.counts, r.bytes = nil, nil, 0
		r.mu.Unlock()
		if r.reg != nil {
			_ = r.reg.Unregister()
		}
		closeErr := r.fwd.close()
		if left > 0 {
			drainErr = errors.Join(drainErr, fmt.Errorf("relay shutdown: %d spans dropped", left))
		}
		err = errors.Join(drainErr, srvErr, closeErr)
	})
	return err
}

func (r *Relay) registerMetrics() {
	m := r.cfg.meterProvider.Meter(instrumentationName)
	queued, err1 := m.Int64ObservableGauge("kntrace.relay.queue.size",
		metric.WithDescription("Bytes of OTLP payloads held by the relay."), metric.WithUnit("By"))
	accepted, err2 := m.Int64ObservableCounter("kntrace.relay.spans.accepted",
		metric.WithDescription("Spans the relay accepted."), metric.WithUnit("{span}"))
	forwarded, err3 := m.Int64ObservableCounter("kntrace.relay.spans.forwarded",
		metric.WithDescription("Spans the collector accepted from the relay."), metric.WithUnit("{span}"))
	dropped, err4 := m.Int64ObservableCounter("kntrace.relay.spans.dropped",
		metric.WithDescription("Spans refused by the collector as invalid or left at shutdown."), metric.WithUnit("{span}"))
	rejected, err5 := m.Int64ObservableCounter("kntrace.relay.requests.rejected",
		metric.WithDescription("Requests answered with an error (queue full, shutting down, malformed)."), metric.WithUnit("{request}"))
	retries, err6 := m.Int64ObservableCounter("kntrace.relay.forward.retries",
		metric.WithDescription("Failed forwards, each retried after a backoff."), metric.WithUnit("{call}"))
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		r.cfg.logger.Warn("kntrace: relay metrics unavailable", "error", err)
		return
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := r.Stats()
		o.ObserveInt64(queued, int64(st.QueuedBytes))
		o.ObserveInt64(accepted, int64(st.AcceptedSpans))
		o.ObserveInt64(forwarded, int64(st.ForwardedSpans))
		o.ObserveInt64(dropped, int64(st.DroppedSpans))
		o.ObserveInt64(rejected, int64(st.RejectedRequests))
		o.ObserveInt64(retries, int64(st.Retries))
		return nil
	}, queued, accepted, forwarded, dropped, rejected, retries)
	if err != nil {
		r.cfg.logger.Warn("kntrace: relay metrics unavailable", "error", err)
		return
	}
	r.reg = reg
}
