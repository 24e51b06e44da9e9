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
	"fmt"
	"time"
)

// Drain keeps accepting and returns once the queue has been empty, with no
// new payload, for the quiet period since Drain was called or the last
// payload came (the app has flushed), or when ctx ends (then with an error
// naming what is still queued). Counting from the call keeps the relay up
// for an app that stops listening first and flushes after.
func (r *Relay) Drain(ctx context.Context) error {
	start := time.Now()
	for {
		r.mu.Lock()
		changed := r.changed
		n := len(r.queue)
		idle := time.Since(r.lastIn)
		r.mu.Unlock()
		idle = min(idle, time.Since(start))
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
