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

package activatorhooks

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/serving/pkg/activator"

	"github.com/kntrace/kntrace/coldstart"
)

// coldWait marks a request that arrived while its revision had no ready
// backend: it waits for a cold start. ServerHandler puts it in the
// request's context before the request span starts, so that Sampler can
// keep the span.
type coldWait struct {
	rev types.NamespacedName
}

type coldWaitKey struct{}

func coldWaitFrom(ctx context.Context) *coldWait {
	cw, _ := ctx.Value(coldWaitKey{}).(*coldWait)
	return cw
}

// markColdWait puts a coldWait in the request's context when the revision
// the request is for (Knative-Serving-Namespace, Knative-Serving-Revision,
// which the ingress sets) has no ready backend. A warm request costs one
// lister lookup and no allocation beyond it.
func (h *Hooks) markColdWait(r *http.Request) *http.Request {
	f := h.cfg.readyBackends
	if f == nil {
		return r
	}
	rev := types.NamespacedName{Namespace: r.Header.Get(activator.RevisionHeaderNamespace), Name: r.Header.Get(activator.RevisionHeaderName)}
	if rev.Name == "" || rev.Namespace == "" {
		return r
	}
	if n, ok := f(rev); !ok || n > 0 {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), coldWaitKey{}, &coldWait{rev: rev}))
}

// Sampler returns base with one exception: a new trace (no parent span)
// started for a request that waits for a cold start is always sampled, so
// cold starts, the rare slow requests kntrace exists to explain, are kept at
// any sampling rate. A caller's own decision is respected: a request whose
// caller sent an unsampled context stays unsampled (Handler then records the
// cold start in a trace of its own, linked to the caller's). Give it to the
// activator's tracer provider (sdktrace.WithSampler).
func Sampler(base sdktrace.Sampler) sdktrace.Sampler { return keepColdWaits{base: base} }

type keepColdWaits struct{ base sdktrace.Sampler }

var _ sdktrace.Sampler = keepColdWaits{}

func (s keepColdWaits) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if coldWaitFrom(p.ParentContext) != nil && !trace.SpanContextFromContext(p.ParentContext).IsValid() {
		return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
	}
	return s.base.ShouldSample(p)
}

func (s keepColdWaits) Description() string {
	return "kntrace.KeepColdStarts{" + s.base.Description() + "}"
}

// episode is one scale from zero of a revision as the activator sees it.
// The first request that waited for it is its leader: the cold start's phase
// spans go under the leader's span, whichever request the new pod answers
// first. Requests that arrive while it is open are followers, marked and
// linked to the leader. It closes when the leader's request ends.
type episode struct {
	rev     types.NamespacedName
	leader  trace.SpanContext
	arrival time.Time // the leader's
	ended   atomic.Bool
	phased  atomic.Bool // the phase spans are recorded
}

// episodes are the open episodes by revision.
type episodes struct{ m sync.Map }

// join returns the open episode of rev, or opens one led by sc, a request
// that arrived at arrival. It keeps one entry per revision that ever
// scaled from zero.
func (e *episodes) join(rev types.NamespacedName, sc trace.SpanContext, arrival time.Time) (ep *episode, leader bool) {
	fresh := &episode{rev: rev, leader: sc, arrival: arrival}
	for {
		v, loaded := e.m.LoadOrStore(rev, fresh)
		if !loaded {
			return fresh, true
		}
		old := v.(*episode)
		if !old.ended.Load() {
			return old, false
		}
		if e.m.CompareAndSwap(rev, old, fresh) {
			return fresh, true
		}
	}
}

// newColdStartHistogram is the cold-start duration histogram; without a
// working meter the histogram is a no-op and onError hears why.
func newColdStartHistogram(mp metric.MeterProvider, onError func(error)) metric.Float64Histogram {
	h, err := mp.Meter(instrumentationName).Float64Histogram(coldstart.MetricDuration,
		metric.WithDescription("Time a request waited for its revision to scale from zero: arrival at the activator to the new pod's first response byte."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60))
	if err != nil {
		onError(err)
		return metricnoop.Float64Histogram{}
	}
	return h
}
