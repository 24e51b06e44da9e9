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
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Names of the spans the cold-start middleware records.
const (
	// SpanColdStart covers process start to the first request; child of the
	// first request's span.
	SpanColdStart = "kntrace.coldstart"
	// SpanColdStartInit covers process start to app readiness.
	SpanColdStartInit = "kntrace.coldstart.init"
	// SpanColdStartWait covers app readiness to the first request.
	SpanColdStartWait = "kntrace.coldstart.wait"
)

// Events on SpanColdStart.
const (
	EventProcessStart = "process.start"
	EventAppReady     = "app.ready"
	EventFirstRequest = "request.first"
)

// TimelineHeader carries a pod's timeline to the activator on a response:
// "start=<unix ns>,ready=<unix ns>" (ready omitted when unknown).
const TimelineHeader = "K-Kntrace-Timeline"

// Timeline records when this process started, when the app became ready and
// when the first request arrived. It is safe for concurrent use; exactly one
// caller of ClaimFirstRequest wins.
type Timeline struct {
	start int64 // unix ns
	ready atomic.Int64
	first atomic.Int64
}

// TimelineOption configures a Timeline.
type TimelineOption interface{ applyTimeline(*Timeline) }

type timelineOption func(*Timeline)

func (f timelineOption) applyTimeline(t *Timeline) { f(t) }

// WithProcessStart sets the process start instead of reading /proc/self/stat.
func WithProcessStart(at time.Time) TimelineOption {
	return timelineOption(func(t *Timeline) { t.start = at.UnixNano() })
}

// NewTimeline returns a Timeline whose start is the process start time from
// /proc/self/stat (or WithProcessStart); if that cannot be read, now.
func NewTimeline(opts ...TimelineOption) *Timeline {
	t := &Timeline{}
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

// ProcessStart is this process's start time, from the starttime field of
// /proc/self/stat (clock ticks since boot, USER_HZ=100) and /proc/uptime;
// accurate to about 10 ms.
func ProcessStart() (time.Time, error) {
	now := time.Now()
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return time.Time{}, err
	}
	uptime, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return time.Time{}, err
	}
	return processStartFrom(now, string(stat), string(uptime))
}

func processStartFrom(now time.Time, stat, uptime string) (time.Time, error) {
	// The command name (field 2) is in parentheses and may hold anything.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return time.Time{}, errors.New("/proc/self/stat: no command name")
	}
	fields := strings.Fields(stat[i+1:])
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return time.Time{}, errors.New("/proc/self/stat: too few fields")
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("/proc/self/stat starttime: %w", err)
	}
	up := strings.Fields(uptime)
	if len(up) == 0 {
		return time.Time{}, errors.New("/proc/uptime: empty")
	}
	secs, err := strconv.ParseFloat(up[0], 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("/proc/uptime: %w", err)
	}
	const userHZ = 100
	sinceStart := time.Duration((secs - float64(ticks)/userHZ) * float64(time.Second))
	if sinceStart < 0 {
		sinceStart = 0
	}
	return now.Add(-sinceStart), nil
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

// HeaderValue formats the timeline for TimelineHeader.
func (t *Timeline) HeaderValue() string {
	v := "start=" + strconv.FormatInt(t.start, 10)
	if r := t.ready.Load(); r != 0 {
		v += ",ready=" + strconv.FormatInt(r, 10)
	}
	return v
}

// ParseTimelineHeader reads a TimelineHeader value; ready is zero when absent.
// Unknown keys are ignored so the format can grow.
func ParseTimelineHeader(v string) (start, ready time.Time, err error) {
	var haveStart bool
	for part := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return time.Time{}, time.Time{}, fmt.Errorf("%s: %q is not key=value", TimelineHeader, part)
		}
		var dst *time.Time
		switch k {
		case "start":
			dst, haveStart = &start, true
		case "ready":
			dst = &ready
		default:
			continue
		}
		ns, perr := strconv.ParseInt(val, 10, 64)
		if perr != nil || ns <= 0 {
			return time.Time{}, time.Time{}, fmt.Errorf("%s: %s=%q: want Unix nanoseconds", TimelineHeader, k, val)
		}
		*dst = time.Unix(0, ns)
	}
	if !haveStart {
		return time.Time{}, time.Time{}, fmt.Errorf("%s: %q has no start", TimelineHeader, v)
	}
	return start, ready, nil
}

// KnativeAttributes are the faas.* and k8s.* attributes Knative's environment
// gives: in an app container K_SERVICE, K_CONFIGURATION, K_REVISION; in the
// queue-proxy SERVING_SERVICE, SERVING_CONFIGURATION, SERVING_REVISION,
// SERVING_POD, SERVING_NAMESPACE; the pod name and namespace from POD_NAME /
// POD_NAMESPACE (downward API) or HOSTNAME. Empty values are left out.
func KnativeAttributes(getenv func(string) string) []attribute.KeyValue {
	if getenv == nil {
		getenv = os.Getenv
	}
	first := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	var kvs []attribute.KeyValue
	if v := first("K_SERVICE", "SERVING_SERVICE", "K_CONFIGURATION", "SERVING_CONFIGURATION"); v != "" {
		kvs = append(kvs, semconv.FaaSName(v))
	}
	if v := first("K_REVISION", "SERVING_REVISION"); v != "" {
		kvs = append(kvs, semconv.FaaSVersion(v))
	}
	if v := first("POD_NAME", "SERVING_POD", "HOSTNAME"); v != "" {
		kvs = append(kvs, semconv.FaaSInstance(v), semconv.K8SPodName(v))
	}
	if v := first("POD_NAMESPACE", "SERVING_NAMESPACE", "NAMESPACE"); v != "" {
		kvs = append(kvs, semconv.K8SNamespaceName(v))
	}
	return kvs
}

type coldStartConfig struct {
	tp       trace.TracerProvider
	attrs    []attribute.KeyValue
	spanName string
}

// ColdStartOption configures the cold-start middleware.
type ColdStartOption interface{ applyColdStart(*coldStartConfig) }

type coldStartOption func(*coldStartConfig)

func (f coldStartOption) applyColdStart(c *coldStartConfig) { f(c) }

// WithTracerProvider sets the provider of the cold-start spans (default: the
// global one).
func WithTracerProvider(tp trace.TracerProvider) ColdStartOption {
	return coldStartOption(func(c *coldStartConfig) { c.tp = tp })
}

// WithAttributes sets the attributes of the cold-start span (default:
// KnativeAttributes(os.Getenv)).
func WithAttributes(kvs ...attribute.KeyValue) ColdStartOption {
	return coldStartOption(func(c *coldStartConfig) { c.attrs = kvs })
}

// WithServerSpanName names the server span the middleware starts when the
// request carries no span of its own (default "http.server").
func WithServerSpanName(name string) ColdStartOption {
	return coldStartOption(func(c *coldStartConfig) { c.spanName = name })
}

// Middleware marks the first request this process serves as its cold start:
// it sets faas.coldstart=true on the request's span (false on every other
// request) and records a SpanColdStart child with the phases process start →
// app ready → first request (child spans and events). Put it inside the
// handler that starts the request's server span (otelhttp); without one it
// starts a server span itself.
func (t *Timeline) Middleware(next http.Handler, opts ...ColdStartOption) http.Handler {
	cfg := coldStartConfig{spanName: "http.server"}
	for _, o := range opts {
		o.applyColdStart(&cfg)
	}
	if cfg.attrs == nil {
		cfg.attrs = KnativeAttributes(os.Getenv)
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	tracer := cfg.tp.Tracer(instrumentationName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		ctx := r.Context()
		span := trace.SpanFromContext(ctx)
		if !span.SpanContext().IsValid() {
			var own trace.Span
			ctx, own = tracer.Start(ctx, cfg.spanName, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(now))
			defer own.End()
			span = own
			r = r.WithContext(ctx)
		}
		cold := t.ClaimFirstRequest(now)
		span.SetAttributes(semconv.FaaSColdstart(cold))
		if cold {
			t.RecordColdStart(ctx, tracer, now, cfg.attrs...)
		}
		next.ServeHTTP(w, r)
	})
}

// RecordColdStart records the cold-start spans as children of ctx's span,
// ending at firstRequest. The queue-proxy and the activator hooks use it with
// times from their own timelines.
func (t *Timeline) RecordColdStart(ctx context.Context, tracer trace.Tracer, firstRequest time.Time, attrs ...attribute.KeyValue) {
	start := t.Start()
	ready, haveReady := t.Ready()
	if !haveReady || ready.After(firstRequest) {
		ready = firstRequest
	}
	all := make([]attribute.KeyValue, 0, len(attrs)+4)
	all = append(all, semconv.FaaSColdstart(true))
	all = append(all, attrs...)
	all = append(all,
		attribute.Int64("kntrace.coldstart.init_ms", ready.Sub(start).Milliseconds()),
		attribute.Int64("kntrace.coldstart.wait_ms", firstRequest.Sub(ready).Milliseconds()),
		attribute.Bool("kntrace.coldstart.ready_known", haveReady))
	cctx, cs := tracer.Start(ctx, SpanColdStart, trace.WithTimestamp(start), trace.WithAttributes(all...))
	cs.AddEvent(EventProcessStart, trace.WithTimestamp(start))
	if haveReady {
		cs.AddEvent(EventAppReady, trace.WithTimestamp(ready))
	}
	cs.AddEvent(EventFirstRequest, trace.WithTimestamp(firstRequest))
	_, initSpan := tracer.Start(cctx, SpanColdStartInit, trace.WithTimestamp(start))
	initSpan.End(trace.WithTimestamp(ready))
	_, waitSpan := tracer.Start(cctx, SpanColdStartWait, trace.WithTimestamp(ready))
	waitSpan.End(trace.WithTimestamp(firstRequest))
	cs.End(trace.WithTimestamp(firstRequest))
}
