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
	"math/rand/v2"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

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
				retryAt = time.Now().Add(b.cfg.backoff.Delay(attempt, rand.Float64()))
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
		b.cfg.logger.Warn("span export failed, holding spans and retrying with backoff (logged once)", "error", err)
	}
	return batch, err
}
