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
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Buffer defaults. Each can be changed with an option and, where named, an
// environment variable.
const (
	// DefaultBufferMaxBytes (KNTRACE_BUFFER_MAX_BYTES): 8 MiB of estimated span size.
	DefaultBufferMaxBytes = 8 << 20
	// DefaultBufferMaxSpans (KNTRACE_BUFFER_MAX_SPANS).
	DefaultBufferMaxSpans = 16384
	// DefaultBatchSize (OTEL_BSP_MAX_EXPORT_BATCH_SIZE), as the SDK's.
	DefaultBatchSize = 512
	// DefaultBatchTimeout (OTEL_BSP_SCHEDULE_DELAY), as the SDK's: the longest
	// a span waits for a batch to fill while the exporter is healthy.
	DefaultBatchTimeout = 5 * time.Second
	// DefaultExportTimeout (OTEL_BSP_EXPORT_TIMEOUT) bounds one export call.
	DefaultExportTimeout = 10 * time.Second
)

type bufferConfig struct {
	shared
	maxBytes      int
	maxSpans      int
	batchSize     int
	batchTimeout  time.Duration
	exportTimeout time.Duration
}

// BufferOption configures a Buffer.
type BufferOption interface{ applyBuffer(*bufferConfig) }

type bufferOption func(*bufferConfig)

func (f bufferOption) applyBuffer(c *bufferConfig) { f(c) }

// WithMaxBytes bounds the buffered spans' estimated size.
func WithMaxBytes(n int) BufferOption {
	return bufferOption(func(c *bufferConfig) { c.maxBytes = n })
}

// WithMaxSpans bounds the number of buffered spans.
func WithMaxSpans(n int) BufferOption {
	return bufferOption(func(c *bufferConfig) { c.maxSpans = n })
}

// WithBatchSize sets the most spans per export.
func WithBatchSize(n int) BufferOption {
	return bufferOption(func(c *bufferConfig) { c.batchSize = n })
}

// WithBatchTimeout sets how long a span waits for a batch to fill.
func WithBatchTimeout(d time.Duration) BufferOption {
	return bufferOption(func(c *bufferConfig) { c.batchTimeout = d })
}

// WithExportTimeout bounds each export call.
func WithExportTimeout(d time.Duration) BufferOption {
	return bufferOption(func(c *bufferConfig) { c.exportTimeout = d })
}

// BufferStats are a Buffer's counters. Received = Exported + Dropped + Buffered
// whenever no export is in flight (spans of the batch in flight given up to
// make room count as exported or dropped when that export ends; spans ended
// after Shutdown are not received).
type BufferStats struct {
	Received uint64 // sampled spans handed to OnEnd
	Exported uint64 // spans the exporter accepted
	Dropped  uint64 // spans dropped: buffer full (oldest first) or left at shutdown
	Retries  uint64 // failed export calls (each is retried after a backoff)
	Buffered int    // spans held now, including the batch being exported
	Bytes    int    // their estimated size
}

// Buffer is a span processor that replaces the SDK's batch span processor. It
// keeps ended spans in a FIFO bounded by bytes and count, exports them in
// batches in order, and, while the exporter fails (a collector not up yet, a
// sidecar not ready), keeps them and retries with exponential backoff and
// jitter. When full it drops the oldest spans, including those of a batch
// whose export is still in flight (they count as dropped only if that export
// fails; until it ends their memory stays held, so the true bound is the
// configured bound plus one batch). OnEnd never blocks.
type Buffer struct {
	exporter sdktrace.SpanExporter
	cfg      bufferConfig

	mu      sync.Mutex
	q       ring
	bytes   int     // estimated size of the spans held (queued and in flight, less evicted)
	held    []entry // the batch being exported, oldest first
	evicted int     // leading entries of held given up to make room
	nextSeq uint64
	stats   BufferStats
	stopped bool

	wake    chan struct{}
	flushes chan *flushRequest
	quit    chan struct{}
	done    chan struct{}
	runCtx  context.Context
	cancel  context.CancelFunc

	loggedDrop atomic.Bool
	loggedFail atomic.Bool
	reg        metric.Registration
	shutOnce   sync.Once
	shutErr    error
}

var _ sdktrace.SpanProcessor = (*Buffer)(nil)

type flushRequest struct {
	target uint64 // done when every span with seq <= target has left
	done   chan struct{}
}

// NewBuffer starts a Buffer in front of exporter. Register it with
// sdktrace.WithSpanProcessor in place of sdktrace.WithBatcher.
func NewBuffer(exporter sdktrace.SpanExporter, opts ...BufferOption) *Buffer {
	cfg := bufferConfig{
		shared:        defaultShared(),
		maxBytes:      DefaultBufferMaxBytes,
		maxSpans:      DefaultBufferMaxSpans,
		batchSize:     DefaultBatchSize,
		batchTimeout:  DefaultBatchTimeout,
		exportTimeout: DefaultExportTimeout,
	}
	// Options are applied twice: first so WithEnv and WithLogger reach the
	// environment parsing, then so the options win over the environment.
	for _, o := range opts {
		o.applyBuffer(&cfg)
	}
	envInt(&cfg.shared, EnvBufferMaxBytes, &cfg.maxBytes)
	envInt(&cfg.shared, EnvBufferMaxSpans, &cfg.maxSpans)
	envInt(&cfg.shared, EnvBatchSize, &cfg.batchSize)
	envMillis(&cfg.shared, EnvScheduleDelay, &cfg.batchTimeout)
	envMillis(&cfg.shared, EnvExportTimeout, &cfg.exportTimeout)
	for _, o := range opts {
		o.applyBuffer(&cfg)
	}
	if cfg.maxSpans <= 0 {
		cfg.maxSpans = DefaultBufferMaxSpans
	}
	if cfg.maxBytes <= 0 {
		cfg.maxBytes = DefaultBufferMaxBytes
	}
	if cfg.batchSize <= 0 {
		cfg.batchSize = DefaultBatchSize
	}
	if cfg.batchSize > cfg.maxSpans {
		cfg.batchSize = cfg.maxSpans
	}
	if cfg.batchTimeout <= 0 {
		cfg.batchTimeout = DefaultBatchTimeout
	}
	if cfg.exportTimeout <= 0 {
		cfg.exportTimeout = DefaultExportTimeout
	}
	b := &Buffer{
		exporter: exporter,
		cfg:      cfg,
		q:        newRing(min(cfg.maxSpans, 2*cfg.batchSize)),
		nextSeq:  1,
		wake:     make(chan struct{}, 1),
		flushes:  make(chan *flushRequest),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	b.runCtx, b.cancel = context.WithCancel(context.Background())
	b.registerMetrics()
	go b.run()
	return b
}

// OnStart does nothing.
func (b *Buffer) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span; when the buffer is full the oldest queued spans
// are dropped to make room. It never blocks on the exporter.
func (b *Buffer) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	size := SpanSize(s)
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.stats.Received++
	dropped, evicted := 0, b.evicted
	for b.overLocked(size) {
		if b.evicted < len(b.held) {
			// The oldest spans are in the batch being exported: give them
			// up; they count as dropped if that export fails.
			b.bytes -= int(b.held[b.evicted].size)
			b.evicted++
			continue
		}
		if b.q.len == 0 {
			break
		}
		e := b.q.popFront()
		b.bytes -= int(e.size)
		dropped++
	}
	if b.overLocked(size) {
		// The span alone exceeds the bound.
		dropped++
	} else {
		b.q.pushBack(entry{span: s, size: int32(size), seq: b.nextSeq})
		b.bytes += size
	}
	b.nextSeq++
	b.stats.Dropped += uint64(dropped)
	n := b.q.len
	evicted = b.evicted - evicted
	b.mu.Unlock()
	if dropped+evicted > 0 && b.loggedDrop.CompareAndSwap(false, true) {
		b.cfg.logger.Warn("kntrace: span buffer full, dropping the oldest spans (logged once; see metric kntrace.buffer.spans.dropped)",
			"max_bytes", b.cfg.maxBytes, "max_spans", b.cfg.maxSpans)
	}
	if n == 1 || n == b.cfg.batchSize {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

func (b *Buffer) overLocked(size int) bool {
	return b.q.len+len(b.held)-b.evicted+1 > b.cfg.maxSpans || b.bytes+size > b.cfg.maxBytes
}

// ForceFlush exports every span ended before the call, retrying while the
// exporter fails, until done or ctx ends (then it returns an error naming how
// many spans are still held).
func (b *Buffer) ForceFlush(ctx context.Context) error {
	b.mu.Lock()
	req := &flushRequest{target: b.nextSeq - 1, done: make(chan struct{})}
	b.mu.Unlock()
	select {
	case b.flushes <- req:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return b.pendingErr(ctx)
	}
	select {
	case <-req.done:
		return nil
	case <-b.done:
		return nil
	case <-ctx.Done():
		return b.pendingErr(ctx)
	}
}

func (b *Buffer) pendingErr(ctx context.Context) error {
	st := b.Stats()
	return fmt.Errorf("kntrace: span buffer flush: %d spans still held: %w", st.Buffered, ctx.Err())
}

// Shutdown stops accepting spans, flushes what is held until ctx ends, drops
// (and counts) whatever is left, and shuts the exporter down.
func (b *Buffer) Shutdown(ctx context.Context) error {
	b.shutOnce.Do(func() {
		flushErr := b.ForceFlush(ctx)
		b.mu.Lock()
		b.stopped = true
		b.mu.Unlock()
		close(b.quit)
		b.cancel()
		select {
		case <-b.done:
		case <-ctx.Done():
		}
		b.mu.Lock()
		left := b.q.len + len(b.held) - b.evicted
		if left > 0 && len(b.held) == 0 {
			b.stats.Dropped += uint64(b.q.len)
			b.q.clear()
			b.bytes = 0
		}
		b.mu.Unlock()
		if b.reg != nil {
			_ = b.reg.Unregister()
		}
		expErr := b.exporter.Shutdown(ctx)
		if left > 0 {
			flushErr = errors.Join(flushErr, fmt.Errorf("kntrace: span buffer shutdown: %d spans dropped", left))
		}
		b.shutErr = errors.Join(flushErr, expErr)
	})
	return b.shutErr
}

// Stats returns the counters.
func (b *Buffer) Stats() BufferStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats
	st.Buffered = b.q.len + len(b.held) - b.evicted
	st.Bytes = b.bytes
	return st
}

// run is the export loop.
func (b *Buffer) run() {
	defer close(b.done)
	var (
		flushes      []*flushRequest
		retryAt      time.Time // while failing: no export before
		attempt      int       // consecutive failures
		pendingSince time.Time // when the queue last became non-empty
		catchUp      bool      // after a recovery: export back to back
		batch        []sdktrace.ReadOnlySpan
		timer        = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	for {
		now := time.Now()
		b.mu.Lock()
		n := b.q.len
		oldest := b.nextSeq
		if n > 0 {
			oldest = b.q.front().seq
		}
		b.mu.Unlock()
		flushes = completeFlushes(flushes, oldest)
		if n == 0 {
			pendingSince = time.Time{}
			catchUp = false
		} else if pendingSince.IsZero() {
			pendingSince = now
		}

		wait := time.Duration(-1)
		switch {
		case n == 0:
		case now.Before(retryAt):
			wait = retryAt.Sub(now)
		case n >= b.cfg.batchSize || len(flushes) > 0 || catchUp:
			wait = 0
		default:
			wait = max(0, pendingSince.Add(b.cfg.batchTimeout).Sub(now))
		}

		if wait == 0 {
			select {
			case <-b.quit:
				return
			default:
			}
			var err error
			batch, err = b.exportBatch(batch)
			if err == nil {
				catchUp = catchUp || attempt > 0
				attempt = 0
				retryAt = time.Time{}
				pendingSince = time.Now()
			} else {
				attempt++
				retryAt = time.Now().Add(b.cfg.backoff.delay(attempt, rand.Float64()))
			}
			continue
		}

		var timerC <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			timerC = timer.C
		}
		select {
		case <-b.wake:
		case <-timerC:
		case req := <-b.flushes:
			flushes = append(flushes, req)
			retryAt = time.Time{} // a flush tries at once
		case <-b.quit:
			return
		}
		if timerC != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func completeFlushes(flushes []*flushRequest, oldest uint64) []*flushRequest {
	kept := flushes[:0]
	for _, f := range flushes {
		if f.target < oldest {
			close(f.done)
		} else {
			kept = append(kept, f)
		}
	}
	clear(flushes[len(kept):])
	return kept
}

// exportBatch exports the oldest spans; on failure it puts them back at the
// front (less those evicted meanwhile), so order is kept. The slice is reused
// between calls.
func (b *Buffer) exportBatch(batch []sdktrace.ReadOnlySpan) ([]sdktrace.ReadOnlySpan, error) {
	b.mu.Lock()
	k := min(b.cfg.batchSize, b.q.len)
	batch = batch[:0]
	b.held, b.evicted = b.held[:0], 0
	for range k {
		e := b.q.popFront()
		b.held = append(b.held, e)
		batch = append(batch, e.span)
	}
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(b.runCtx, b.cfg.exportTimeout)
	err := b.exporter.ExportSpans(ctx, batch)
	cancel()

	b.mu.Lock()
	kept := b.held[b.evicted:]
	if err == nil {
		b.stats.Exported += uint64(k)
		for _, e := range kept {
			b.bytes -= int(e.size)
		}
	} else {
		b.stats.Retries++
		b.stats.Dropped += uint64(b.evicted)
		for i := len(kept) - 1; i >= 0; i-- {
			b.q.pushFront(kept[i])
		}
	}
	clear(b.held)
	b.held, b.evicted = b.held[:0], 0
	b.mu.Unlock()
	clear(batch)

	if err != nil && b.loggedFail.CompareAndSwap(false, true) {
		b.cfg.logger.Warn("kntrace: span export failed, holding spans and retrying with backoff (logged once)", "error", err)
	}
	return batch, err
}

func (b *Buffer) registerMetrics() {
	m := b.cfg.meterProvider.Meter(instrumentationName)
	buffered, err1 := m.Int64ObservableGauge("kntrace.buffer.spans",
		metric.WithDescription("Spans held by the span buffer, including the batch being exported."), metric.WithUnit("{span}"))
	size, err2 := m.Int64ObservableGauge("kntrace.buffer.size",
		metric.WithDescription("Estimated size of the spans held by the span buffer."), metric.WithUnit("By"))
	received, err3 := m.Int64ObservableCounter("kntrace.buffer.spans.received",
		metric.WithDescription("Sampled spans handed to the span buffer."), metric.WithUnit("{span}"))
	exported, err4 := m.Int64ObservableCounter("kntrace.buffer.spans.exported",
		metric.WithDescription("Spans the exporter accepted."), metric.WithUnit("{span}"))
	dropped, err5 := m.Int64ObservableCounter("kntrace.buffer.spans.dropped",
		metric.WithDescription("Spans dropped because the buffer was full (oldest first) or left at shutdown."), metric.WithUnit("{span}"))
	retries, err6 := m.Int64ObservableCounter("kntrace.buffer.export.retries",
		metric.WithDescription("Failed export calls, each retried after a backoff."), metric.WithUnit("{call}"))
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		b.cfg.logger.Warn("kntrace: span buffer metrics unavailable", "error", err)
		return
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := b.Stats()
		o.ObserveInt64(buffered, int64(st.Buffered))
		o.ObserveInt64(size, int64(st.Bytes))
		o.ObserveInt64(received, int64(st.Received))
		o.ObserveInt64(exported, int64(st.Exported))
		o.ObserveInt64(dropped, int64(st.Dropped))
		o.ObserveInt64(retries, int64(st.Retries))
		return nil
	}, buffered, size, received, exported, dropped, retries)
	if err != nil {
		b.cfg.logger.Warn("kntrace: span buffer metrics unavailable", "error", err)
		return
	}
	b.reg = reg
}

const instrumentationName = "github.com/kntrace/kntrace/scaling"

// Size estimates, in bytes, of the parts of a span held in memory.
const (
	spanOverhead  = 400 // the SDK's span snapshot: IDs, times, status, slices' headers
	eventOverhead = 64
	linkOverhead  = 80
	attrOverhead  = 48 // attribute.KeyValue
)

// SpanSize estimates the memory a finished span holds: its name, attributes,
// events and links, plus fixed overheads. The resource and instrumentation
// scope are shared by all spans of a provider and are not counted.
func SpanSize(s sdktrace.ReadOnlySpan) int {
	n := spanOverhead + len(s.Name()) + len(s.Status().Description) + attrsSize(s.Attributes())
	for _, e := range s.Events() {
		n += eventOverhead + len(e.Name) + attrsSize(e.Attributes)
	}
	for _, l := range s.Links() {
		n += linkOverhead + attrsSize(l.Attributes)
	}
	return n
}

func attrsSize(kvs []attribute.KeyValue) int {
	n := 0
	for i := range kvs {
		n += attrOverhead + len(kvs[i].Key)
		v := &kvs[i].Value
		switch v.Type() {
		case attribute.STRING:
			n += len(v.AsString())
		case attribute.STRINGSLICE:
			for _, s := range v.AsStringSlice() {
				n += 16 + len(s)
			}
		case attribute.BOOLSLICE:
			n += len(v.AsBoolSlice())
		case attribute.INT64SLICE:
			n += 8 * len(v.AsInt64Slice())
		case attribute.FLOAT64SLICE:
			n += 8 * len(v.AsFloat64Slice())
		}
	}
	return n
}

// entry is one buffered span.
type entry struct {
	span sdktrace.ReadOnlySpan
	seq  uint64
	size int32
}

// ring is a growable FIFO of entries.
type ring struct {
	buf  []entry
	head int
	len  int
}

func newRing(capacity int) ring { return ring{buf: make([]entry, max(capacity, 16))} }

func (r *ring) grow() {
	nb := make([]entry, 2*len(r.buf))
	n := copy(nb, r.buf[r.head:])
	copy(nb[n:], r.buf[:r.head])
	r.buf, r.head = nb, 0
}

func (r *ring) pushBack(e entry) {
	if r.len == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.len)%len(r.buf)] = e
	r.len++
}

func (r *ring) pushFront(e entry) {
	if r.len == len(r.buf) {
		r.grow()
	}
	r.head = (r.head - 1 + len(r.buf)) % len(r.buf)
	r.buf[r.head] = e
	r.len++
}

func (r *ring) front() entry { return r.buf[r.head] }

func (r *ring) popFront() entry {
	e := r.buf[r.head]
	r.buf[r.head] = entry{}
	r.head = (r.head + 1) % len(r.buf)
	r.len--
	return e
}

func (r *ring) clear() {
	clear(r.buf)
	r.head, r.len = 0, 0
}
