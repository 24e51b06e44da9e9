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
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

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
