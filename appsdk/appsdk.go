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
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kntrace/kntrace/propagation"
	"github.com/kntrace/kntrace/scaling"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Environment variables Start reads (as the OpenTelemetry specification
// defines them).
const (
	EnvSDKDisabled        = "OTEL_SDK_DISABLED"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvSampler            = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint     = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol     = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvHeaders            = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvTracesHeaders      = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvCompression        = "OTEL_EXPORTER_OTLP_COMPRESSION"
	EnvTracesCompression  = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
)

// Default endpoints: the queue-proxy's relay (or a collector sidecar) on
// localhost.
const (
	DefaultHTTPEndpoint = "http://localhost:4318"
	DefaultGRPCEndpoint = "http://localhost:4317"
)

type config struct {
	getenv        func(string) string
	exporter      sdktrace.SpanExporter
	bufferOpts    []scaling.BufferOption
	serviceName   string
	timeline      *scaling.Timeline
	global        bool
	signalDrain   time.Duration
	meterProvider metric.MeterProvider
	attrs         []attribute.KeyValue
}

// Option configures Start.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithEnv replaces os.Getenv as the source of the environment.
func WithEnv(getenv func(string) string) Option {
	return optionFunc(func(c *config) { c.getenv = getenv })
}

// WithExporter exports to exp instead of the OTLP exporter the environment
// describes (tests, or a custom backend); it is still wrapped in the buffer.
func WithExporter(exp sdktrace.SpanExporter) Option {
	return optionFunc(func(c *config) { c.exporter = exp })
}

// WithBufferOptions configures the span buffer.
func WithBufferOptions(opts ...scaling.BufferOption) Option {
	return optionFunc(func(c *config) { c.bufferOpts = append(c.bufferOpts, opts...) })
}

// WithServiceName is the service name when neither OTEL_SERVICE_NAME nor
// OTEL_RESOURCE_ATTRIBUTES names one (before K_SERVICE).
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.serviceName = name })
}

// WithResourceAttributes adds resource attributes (the environment wins).
func WithResourceAttributes(kvs ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, kvs...) })
}

// WithTimeline uses t (default: a timeline starting at the process start).
func WithTimeline(t *scaling.Timeline) Option {
	return optionFunc(func(c *config) { c.timeline = t })
}

// WithoutGlobal leaves otel's global tracer provider and propagator alone.
func WithoutGlobal() Option {
	return optionFunc(func(c *config) { c.global = false })
}

// WithSignalDrain flushes the spans when the process gets SIGTERM, for at
// most grace, then lets the signal take its default course (the process
// ends) by raising it again. Apps that handle SIGTERM themselves call
// Shutdown instead.
func WithSignalDrain(grace time.Duration) Option {
	return optionFunc(func(c *config) { c.signalDrain = grace })
}

// WithMeterProvider exports the buffer's counters through mp.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// SDK is the tracing set up by Start.
type SDK struct {
	tp         trace.TracerProvider
	sdkTP      *sdktrace.TracerProvider // nil when disabled
	buffer     *scaling.Buffer
	timeline   *scaling.Timeline
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
		s.timeline = scaling.NewTimeline()
	}

	prop, err := propagation.Parse(env(propagation.EnvPropagators))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", propagation.EnvPropagators, err))
		prop = propagation.New()
	}
	s.propagator = prop

	if disabled, err := parseBool(env(EnvSDKDisabled)); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvSDKDisabled, err))
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

	sampler, err := buildSampler(env)
	errs = append(errs, err)

	exp := cfg.exporter
	if exp == nil {
		exp, err = buildExporter(ctx, env)
		errs = append(errs, err)
	}
	bopts := append([]scaling.BufferOption{scaling.WithEnv(env)}, cfg.bufferOpts...)
	if cfg.meterProvider != nil {
		bopts = append(bopts, scaling.WithMeterProvider(cfg.meterProvider))
	}
	s.buffer = scaling.NewBuffer(exp, bopts...)
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
func (s *SDK) Buffer() *scaling.Buffer { return s.buffer }

// Timeline is the process's cold-start timeline.
func (s *SDK) Timeline() *scaling.Timeline { return s.timeline }

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
	return s.timeline.Middleware(h, scaling.WithTracerProvider(s.tp), scaling.WithAttributes(attrs...))
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

func (s *SDK) drainOnSignal(grace time.Duration) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	s.stopSignal = make(chan struct{})
	stop := s.stopSignal
	go func() {
		defer signal.Stop(ch)
		select {
		case <-stop:
			return
		case sig := <-ch:
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			_ = s.Shutdown(ctx)
			cancel()
			signal.Stop(ch)
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Signal(sig)
			}
		}
	}()
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

func buildResource(env func(string) string, cfg config) (*resource.Resource, error) {
	var errs []error
	attrs := []attribute.KeyValue{
		semconv.TelemetrySDKName("opentelemetry"),
		semconv.TelemetrySDKLanguageGo,
		semconv.TelemetrySDKVersion(sdk.Version()),
	}
	attrs = append(attrs, scaling.KnativeAttributes(env)...)
	attrs = append(attrs, cfg.attrs...)
	fromEnv, err := parseKeyValues(env(EnvResourceAttributes))
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvResourceAttributes, err))
	}
	serviceName := ""
	for _, kv := range fromEnv {
		if kv.Key == "service.name" {
			serviceName = kv.Value
		}
		attrs = append(attrs, attribute.String(kv.Key, kv.Value))
	}
	if v := env(EnvServiceName); v != "" {
		serviceName = v
	}
	if serviceName == "" {
		serviceName = cfg.serviceName
	}
	if serviceName == "" {
		serviceName = env("K_SERVICE")
	}
	if serviceName == "" {
		serviceName = "unknown_service:" + filepath.Base(os.Args[0])
	}
	attrs = append(attrs, semconv.ServiceName(serviceName))
	// Later attributes win over earlier ones with the same key.
	return resource.NewWithAttributes(semconv.SchemaURL, attrs...), errors.Join(errs...)
}

type keyValue struct{ Key, Value string }

// parseKeyValues parses "k1=v1,k2=v2" with percent-encoded values, as
// OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS are written.
func parseKeyValues(s string) ([]keyValue, error) {
	var out []keyValue
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return out, fmt.Errorf("%q is not key=value", part)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return out, fmt.Errorf("%q: bad percent-encoding: %v", part, err)
		}
		out = append(out, keyValue{k, dv})
	}
	return out, nil
}

func buildSampler(env func(string) string) (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(env(EnvSampler)))
	argStr := strings.TrimSpace(env(EnvSamplerArg))
	ratio := 1.0
	var err error
	if argStr != "" && strings.HasSuffix(name, "traceidratio") {
		ratio, err = strconv.ParseFloat(argStr, 64)
		if err != nil || ratio < 0 || ratio > 1 {
			err = fmt.Errorf("%s=%q: want a number from 0 to 1; using 1", EnvSamplerArg, argStr)
			ratio = 1
		}
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), err
	case "always_on":
		return sdktrace.AlwaysSample(), err
	case "always_off":
		return sdktrace.NeverSample(), err
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), err
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), err
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), err
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample()), errors.Join(err, fmt.Errorf(
		"%s=%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio; using parentbased_always_on",
		EnvSampler, name))
}

func first(env func(string) string, names ...string) (string, string) {
	for _, n := range names {
		if v := strings.TrimSpace(env(n)); v != "" {
			return n, v
		}
	}
	return "", ""
}

// buildExporter makes the OTLP exporter; it never connects. The exporter's
// own retries are off: the buffer retries, without blocking its queue.
func buildExporter(ctx context.Context, env func(string) string) (sdktrace.SpanExporter, error) {
	var errs []error
	protoVar, protocol := first(env, EnvTracesProtocol, EnvProtocol)
	switch protocol {
	case "", "http/protobuf", "grpc":
	case "http/json":
		errs = append(errs, fmt.Errorf("%s=http/json: the Go OTLP exporter speaks grpc or http/protobuf; using http/protobuf", protoVar))
		protocol = "http/protobuf"
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want grpc or http/protobuf; using http/protobuf", protoVar, protocol))
		protocol = "http/protobuf"
	}
	if protocol == "" {
		protocol = "http/protobuf"
	}
	endpoint := env(EnvTracesEndpoint)
	signalSpecific := endpoint != ""
	if !signalSpecific {
		endpoint = env(EnvEndpoint)
	}
	if endpoint == "" {
		endpoint = DefaultHTTPEndpoint
		if protocol == "grpc" {
			endpoint = DefaultGRPCEndpoint
		}
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("OTLP endpoint %q: want a URL such as http://collector:4318; using the default", endpoint))
		u, _ = url.Parse(DefaultHTTPEndpoint)
		if protocol == "grpc" {
			u, _ = url.Parse(DefaultGRPCEndpoint)
		}
		signalSpecific = false
	}
	hVar, hv := first(env, EnvTracesHeaders, EnvHeaders)
	kvs, err := parseKeyValues(hv)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", hVar, err))
	}
	headers := map[string]string{}
	for _, kv := range kvs {
		headers[kv.Key] = kv.Value
	}
	_, compression := first(env, EnvTracesCompression, EnvCompression)
	gzipOn := strings.EqualFold(compression, "gzip")

	if protocol == "grpc" {
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpoint(u.Host),
			otlptracegrpc.WithHeaders(headers),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}),
		}
		if u.Scheme == "http" {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if gzipOn {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		return exp, errors.Join(append(errs, err)...)
	}
	path := u.Path
	if !signalSpecific {
		path = strings.TrimSuffix(path, "/") + "/v1/traces"
	}
	if path == "" {
		path = "/"
	}
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpoint(u.Host),
		otlptracehttp.WithURLPath(path),
		otlptracehttp.WithHeaders(headers),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if gzipOn {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	return exp, errors.Join(append(errs, err)...)
}
