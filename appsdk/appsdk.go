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

package appsdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/propagation"
	"github.com/kntrace/kntrace/sampling"
	"github.com/kntrace/kntrace/spanbuffer"
)

// SDK is the tracing set up by Start.
type SDK struct {
	tp         trace.TracerProvider
	sdkTP      *sdktrace.TracerProvider // nil when disabled
	buffer     *spanbuffer.Buffer
	timeline   *coldstart.Timeline
	propagator otelprop.TextMapPropagator
	resource   *resource.Resource

	stopSignal chan struct{}
	once       sync.Once
	err        error
}

// Start sets up tracing from the environment. It does not contact the
// collector. An invalid variable does not stop it: the returned SDK uses the
// default for that variable, and the error names the variable and the fix.
func Start(ctx context.Context, opts ...Option) (*SDK, error) {
	cfg := config{getenv: os.Getenv, global: true}
	for _, o := range opts {
		o.apply(&cfg)
	}
	env := cfg.getenv
	var errs []error
	s := &SDK{timeline: cfg.timeline}
	if s.timeline == nil {
		s.timeline = coldstart.NewTimeline()
	}

	prop, err := propagation.Parse(env(conventions.EnvPropagators))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", conventions.EnvPropagators, err))
		prop = propagation.New()
	}
	s.propagator = prop

	if disabled, err := parseBool(env(conventions.EnvSDKDisabled)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", conventions.EnvSDKDisabled, err))
	} else if disabled {
		s.tp = noop.NewTracerProvider()
		if cfg.global {
			otel.SetTextMapPropagator(prop)
		}
		return s, errors.Join(errs...)
	}

	res, err := buildResource(env, cfg)
	errs = append(errs, err)
	s.resource = res

	sampler, err := sampling.FromEnv(env)
	errs = append(errs, err)
	// A request that carried a sampling decision without trace IDs (b3: 1,
	// b3: d, a lone jaeger-debug-id) decides its new root span.
	sampler = propagation.Sampler(sampler)

	exp := cfg.exporter
	if exp == nil {
		exp, err = buildExporter(ctx, env)
		errs = append(errs, err)
	}
	bopts := append([]spanbuffer.Option{spanbuffer.WithEnv(env)}, cfg.bufferOpts...)
	if cfg.meterProvider != nil {
		bopts = append(bopts, spanbuffer.WithMeterProvider(cfg.meterProvider))
	}
	s.buffer = spanbuffer.New(exp, bopts...)
	s.sdkTP = sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler),
		sdktrace.WithSpanProcessor(s.buffer),
	)
	s.tp = s.sdkTP
	if cfg.global {
		otel.SetTracerProvider(s.sdkTP)
		otel.SetTextMapPropagator(prop)
	}
	if cfg.signalDrain > 0 {
		s.drainOnSignal(cfg.signalDrain)
	}
	return s, errors.Join(errs...)
}

// TracerProvider is the provider (a no-op one when OTEL_SDK_DISABLED=true).
func (s *SDK) TracerProvider() trace.TracerProvider { return s.tp }

// Propagator is the propagator from OTEL_PROPAGATORS.
func (s *SDK) Propagator() otelprop.TextMapPropagator { return s.propagator }

// Resource is the resource spans carry (nil when disabled).
func (s *SDK) Resource() *resource.Resource { return s.resource }

// Buffer is the span buffer (nil when disabled).
func (s *SDK) Buffer() *spanbuffer.Buffer { return s.buffer }

// Timeline is the process's cold-start timeline.
func (s *SDK) Timeline() *coldstart.Timeline { return s.timeline }

// MarkReady records that the app is ready to serve (call it just before
// listening); the cold-start span splits init from the wait for traffic there.
func (s *SDK) MarkReady() { s.timeline.MarkReady() }

// Handler wraps h with a server span per request (named operation) that
// continues the caller's trace, and with the cold-start middleware.
func (s *SDK) Handler(h http.Handler, operation string) http.Handler {
	return otelhttp.NewHandler(s.Middleware(h), operation,
		otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(s.propagator),
		otelhttp.WithSpanNameFormatter(func(op string, r *http.Request) string {
			if op != "" {
				return op
			}
			return r.Method + " " + r.URL.Path
		}))
}

// Middleware is only the cold-start middleware, for apps that already start
// server spans (put it inside them).
func (s *SDK) Middleware(h http.Handler) http.Handler {
	var attrs []attribute.KeyValue
	if s.resource != nil {
		for _, kv := range s.resource.Attributes() {
			switch kv.Key {
			case semconv.FaaSNameKey, semconv.FaaSVersionKey, semconv.FaaSInstanceKey, semconv.K8SPodNameKey, semconv.K8SNamespaceNameKey:
				attrs = append(attrs, kv)
			}
		}
	}
	return s.timeline.Middleware(h, coldstart.WithTracerProvider(s.tp), coldstart.WithAttributes(attrs...))
}

// Shutdown flushes the buffered spans until ctx ends and stops the provider.
// Later calls return the first result.
func (s *SDK) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		if s.stopSignal != nil {
			close(s.stopSignal)
		}
		if s.sdkTP != nil {
			s.err = s.sdkTP.Shutdown(ctx)
		}
	})
	return s.err
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fmt.Errorf("%q: want true or false", v)
}
