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

package coldstart

import (
	"sync/atomic"
	"time"
)

// Timeline records when this process started, when the app became ready and
// when the first request arrived. It is safe for concurrent use; exactly one
// caller of ClaimFirstRequest wins.
type Timeline struct {
	start  int64 // unix ns
	source Source
	pod    string
	ready  atomic.Int64
	first  atomic.Int64
}

// TimelineOption configures a Timeline.
type TimelineOption interface{ applyTimeline(*Timeline) }

type timelineOption func(*Timeline)

func (f timelineOption) applyTimeline(t *Timeline) { f(t) }

// WithProcessStart sets the process start instead of reading /proc/self/stat.
func WithProcessStart(at time.Time) TimelineOption {
	return timelineOption(func(t *Timeline) { t.start = at.UnixNano() })
}

// WithSource says which process the timeline is of (default SourceApp).
func WithSource(s Source) TimelineOption {
	return timelineOption(func(t *Timeline) { t.source = s })
}

// WithPod names the pod the process runs in, for Header (Knative sets
// SERVING_POD); an invalid name is left out.
func WithPod(name string) TimelineOption {
	return timelineOption(func(t *Timeline) {
		if isPodName(name) {
			t.pod = name
		}
	})
}

// NewTimeline returns a Timeline whose start is the process start time from
// /proc/self/stat (or WithProcessStart); if that cannot be read, now.
func NewTimeline(opts ...TimelineOption) *Timeline {
	t := &Timeline{source: SourceApp}
	for _, o := range opts {
		o.applyTimeline(t)
	}
	if t.start == 0 {
		at, err := ProcessStart()
		if err != nil {
			at = time.Now()
		}
		t.start = at.UnixNano()
	}
	return t
}

// Start is the process start.
func (t *Timeline) Start() time.Time { return time.Unix(0, t.start) }

// MarkReady records now as the moment the app became ready (the first call
// wins).
func (t *Timeline) MarkReady() { t.MarkReadyAt(time.Now()) }

// MarkReadyAt records at as the moment the app became ready (the first call
// wins).
func (t *Timeline) MarkReadyAt(at time.Time) { t.ready.CompareAndSwap(0, at.UnixNano()) }

// Ready is when the app became ready, if known.
func (t *Timeline) Ready() (time.Time, bool) { return unixNano(t.ready.Load()) }

// FirstRequest is when the first request arrived, if one has.
func (t *Timeline) FirstRequest() (time.Time, bool) { return unixNano(t.first.Load()) }

// ClaimFirstRequest records at as the first request and reports true to
// exactly one caller per Timeline.
func (t *Timeline) ClaimFirstRequest(at time.Time) bool {
	ns := at.UnixNano()
	if ns == 0 {
		ns = 1
	}
	return t.first.CompareAndSwap(0, ns)
}

func unixNano(ns int64) (time.Time, bool) {
	if ns == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}
