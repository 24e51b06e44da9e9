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

package activator

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"knative.dev/pkg/observability/resource"
	"knative.dev/pkg/observability/tracing"
	servingo11y "knative.dev/serving/pkg/observability"

	"github.com/kntrace/kntrace/activatorhooks"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/propagation"
	"github.com/kntrace/kntrace/sampling"
	"github.com/kntrace/kntrace/spanbuffer"
)

// tracerProvider is what the activator needs of its tracer provider.
type tracerProvider interface {
	trace.TracerProvider
	Shutdown(context.Context) error
}

// newTracerProvider is config-observability's tracing as Knative builds it
// (the same exporter, endpoint rules and resource) with two changes. The
// sampler is kntrace's: the OTEL_TRACES_SAMPLER environment, except that a
// new trace for a request that waits for a cold start is always kept
// (activatorhooks.Sampler) and a decision sent without trace IDs decides
// (propagation.Sampler). And spans go through kntrace's span buffer, not
// the SDK's batch span processor: Knative's exporter gives up on a batch
// after its 10 s timeout, so a collector down longer than that cost every
// span the activator made meanwhile; the buffer holds them, bounded, and
// sends them when the collector answers again. Protocols that export
// nothing (none, stdout) are Knative's own.
func newTracerProvider(ctx context.Context, o11y *servingo11y.Config) (tracerProvider, error) {
	base, err := sampling.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.Default(component)),
		sdktrace.WithSampler(propagation.Sampler(activatorhooks.Sampler(base))),
	}
	exp, err := newExporter(ctx, o11y.Tracing)
	if err != nil {
		return nil, fmt.Errorf("tracer provider: %w", err)
	}
	if exp == nil {
		tp, err := tracing.NewTracerProvider(ctx, o11y.Tracing, opts...)
		if err != nil {
			return nil, fmt.Errorf("tracer provider: %w", err)
		}
		return tp, nil
	}
	return sdktrace.NewTracerProvider(append(opts, sdktrace.WithSpanProcessor(spanbuffer.New(exp)))...), nil
}

// newExporter is the OTLP exporter Knative would build for cfg (nil for a
// protocol that sends nothing to a collector): OTEL_EXPORTER_OTLP_ENDPOINT
// or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, when set, win over the config's
// endpoint, and an endpoint without a scheme is https.
func newExporter(ctx context.Context, cfg tracing.Config) (sdktrace.SpanExporter, error) {
	if cfg.Protocol != conventions.ProtocolGRPC && cfg.Protocol != conventions.ProtocolHTTPProtobuf {
		return nil, nil
	}
	ep := ""
	if cmp.Or(os.Getenv(conventions.EnvEndpoint), os.Getenv(conventions.EnvTracesEndpoint)) == "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("tracing endpoint %q: %w", cfg.Endpoint, err)
		}
		ep = cfg.Endpoint
		if u.Opaque != "" {
			ep = "https://" + ep
		}
	}
	if cfg.Protocol == conventions.ProtocolGRPC {
		var opts []otlptracegrpc.Option
		if ep != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(ep))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	var opts []otlptracehttp.Option
	if ep != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(ep))
	}
	return otlptracehttp.New(ctx, opts...)
}
