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

package queueproxy

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	pkgnet "knative.dev/pkg/network"
	"knative.dev/pkg/observability/tracing"
	"knative.dev/serving/pkg/queue/readiness"
	"knative.dev/serving/pkg/queue/sharedmain"

	"github.com/kntrace/kntrace/scaling"
)

// Option is the sharedmain.Option that installs kntrace into Knative's
// queue-proxy. sharedmain runs options after it has built its tracer
// provider and set its own global propagator, and before it builds the
// server handler (which reads the global propagator then): Option replaces
// the propagator with the bridge, hooks the span processor into Knative's
// SDK tracer provider, replaces the transport to the app with one that
// writes the bridge's formats, wraps the reverse proxy in Handler and
// starts watching the app's readiness.
func (q *QueueProxy) Option() sharedmain.Option {
	return func(d *sharedmain.Defaults) {
		otel.SetTextMapPropagator(q.propagator)
		tp := otel.GetTracerProvider()
		var spans *SpanProcessor
		if sdk := sdkProvider(tp); sdk != nil {
			spans = NewSpanProcessor(q.revision)
			sdk.RegisterSpanProcessor(spans)
		}
		d.Transport = q.Transport(tp)
		d.ProxyHandler = NewHandler(d.ProxyHandler, spans, q.timeline, tp, scaling.KnativeAttributes(q.cfg.getenv))
		go q.watchReadiness(d.Ctx)
		if q.relay != nil {
			q.cfg.logger.Info("kntrace: OTLP relay listening", "address", q.relay.Addr(), "sampling_rate", q.rate, "sampling_rate_from", q.rateSource)
		}
	}
}

// sdkProvider unwraps the tracer provider Knative builds
// (knative.dev/pkg/observability/tracing), nil when it is not the SDK's
// (tracing-protocol none).
func sdkProvider(tp trace.TracerProvider) *sdktrace.TracerProvider {
	if k, ok := tp.(*tracing.TracerProvider); ok {
		tp = k.TracerProvider
	}
	sdk, _ := tp.(*sdktrace.TracerProvider)
	return sdk
}

// Transport is the transport to the app: Knative's (HTTP/1 and h2c, idle
// connections sized by CONTAINER_CONCURRENCY as upstream) inside otelhttp
// with the bridge propagator, client spans named "<METHOD> <revision> app".
func (q *QueueProxy) Transport(tp trace.TracerProvider) http.RoundTripper {
	maxIdle := 1000 // upstream's value for container concurrency 0
	if cc, err := strconv.Atoi(q.cfg.getenv("CONTAINER_CONCURRENCY")); err == nil && cc > 0 {
		maxIdle = cc
	}
	names := map[string]string{}
	suffix := " app"
	if q.revision != "" {
		suffix = " " + q.revision + " app"
	}
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"} {
		names[m] = m + suffix
	}
	return otelhttp.NewTransport(pkgnet.NewProxyAutoTransport(maxIdle, maxIdle),
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(otel.GetMeterProvider()),
		otelhttp.WithPropagators(otelprop.TextMapPropagator(q.propagator)),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if n, ok := names[r.Method]; ok {
				return n
			}
			return "HTTP" + suffix
		}),
	)
}

// watchReadiness probes the user container as the queue-proxy's readiness
// probe does (SERVING_READINESS_PROBE) until the first success, which is
// the timeline's app-ready moment. Without a probe the app counts as ready
// at once, as upstream's queue-proxy reports it.
func (q *QueueProxy) watchReadiness(ctx context.Context) {
	enc := q.cfg.getenv("SERVING_READINESS_PROBE")
	if enc == "" {
		q.timeline.MarkReady()
		return
	}
	multi, _ := strconv.ParseBool(q.cfg.getenv("ENABLE_MULTI_CONTAINER_PROBES"))
	probes, err := readiness.DecodeProbes(enc, multi)
	if err != nil {
		q.cfg.logger.Warn("kntrace: cannot decode the readiness probe; the cold-start span will not know when the app became ready", "error", err)
		return
	}
	var probe *readiness.Probe
	if h2, _ := strconv.ParseBool(q.cfg.getenv("ENABLE_HTTP2_AUTO_DETECTION")); h2 {
		probe = readiness.NewProbeWithHTTP2AutoDetection(probes)
	} else {
		probe = readiness.NewProbe(probes)
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if probe.ProbeContainer() {
			q.timeline.MarkReady()
			return
		}
		t.Reset(q.cfg.probePeriod)
	}
}
