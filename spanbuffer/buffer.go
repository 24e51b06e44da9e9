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

package spanbuffer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Stats are a Buffer's counters. Received = Exported + Dropped + Buffered
// whenever no export is in flight (spans of the batch in flight given up to
// make room count as exported or dropped when that export ends; spans ended
// after Shutdown are not received).
type Stats struct {
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
	cfg      config

	mu      sync.Mutex
	q       ring
	bytes   int     // estimated size of the spans held (queued and in flight, less evicted)
	held    []entry // the batch being exported, oldest first
	evicted int     // leading entries of held given up to make room
	nextSeq uint64
	stats   Stats
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

// New starts a Buffer in front of exporter. Register it with
// sdktrace.WithSpanProcessor in place of sdktrace.WithBatcher.
func New(exporter sdktrace.SpanExporter, opts ...Option) *Buffer {
	cfg := newConfig(opts)
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
		b.cfg.logger.Warn("span buffer full, dropping the oldest spans (logged once; see metric kntrace.buffer.spans.dropped)",
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
	return fmt.Errorf("span buffer flush: %d spans still held: %w", st.Buffered, ctx.Err())
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
			flushErr = errors.Join(flushErr, fmt.Errorf("span buffer shutdown: %d spans dropped", left))
		}
		b.shutErr = errors.Join(flushErr, expErr)
	})
	return b.shutErr
}

// Stats returns the counters.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.stats
	st.Buffered = b.q.len + len(b.held) - b.evicted
	st.Bytes = b.bytes
	return st
}
