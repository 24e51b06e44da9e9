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
	"errors"
	"math/rand/v2"
	"time"
)

// Errors Accept returns.
var (
	ErrFull   = errors.New("relay queue full: retry later")
	ErrClosed = errors.New("relay shutting down")
)

// Accept queues one protobuf ExportTraceServiceRequest for forwarding, as
// an OTLP/HTTP export of it would be, for a caller in the same process that
// received it some other way (an OTLP/gRPC receiver). It fails with
// ErrFull, ErrClosed or a decoding error naming what is wrong; payload must
// not be changed afterwards.
func (r *Relay) Accept(payload []byte) error {
	spans, err := CountSpans(payload)
	if err != nil {
		return err
	}
	switch r.enqueue(payload, spans) {
	case enqueueFull:
		return ErrFull
	case enqueueClosed:
		return ErrClosed
	}
	return nil
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
				r.cfg.logger.Warn("collector refused spans as invalid, dropping them (logged once)", "error", err)
			}
			continue
		}
		attempt++
		r.mu.Lock()
		r.stats.Retries++
		r.mu.Unlock()
		if r.loggedFail.CompareAndSwap(false, true) {
			r.cfg.logger.Warn("forwarding spans to the collector failed, holding them and retrying (logged once)", "error", err)
		}
		wait := r.cfg.backoff.Delay(attempt, rand.Float64())
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
