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
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"knative.dev/pkg/observability/tracing"
	"knative.dev/serving/pkg/queue/sharedmain"

	"github.com/kntrace/kntrace/coldstart"
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
		d.ProxyHandler = NewHandler(d.ProxyHandler, spans, q.timeline, tp, coldstart.KnativeAttributes(q.cfg.getenv))
		go q.watchReadiness(d.Ctx)
		if q.relay != nil {
			q.cfg.logger.Info("OTLP relay listening", "address", q.relay.Addr(), "sampling_rate", q.rate, "sampling_rate_from", q.rateSource)
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
