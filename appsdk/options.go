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
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/spanbuffer"
)

type config struct {
	getenv        func(string) string
	exporter      sdktrace.SpanExporter
	bufferOpts    []spanbuffer.Option
	serviceName   string
	timeline      *coldstart.Timeline
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
func WithBufferOptions(opts ...spanbuffer.Option) Option {
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
func WithTimeline(t *coldstart.Timeline) Option {
	return optionFunc(func(c *config) { c.timeline = t })
}

// WithoutGlobal leaves otel's global tracer provider and propagator alone.
func WithoutGlobal() Option {
	return optionFunc(func(c *config) { c.global = false })
}

// WithSignalDrain flushes the spans when the process gets SIGTERM, for at
// most grace, then ends the process with status 0 (a container that scales
// to zero ends Completed, not Error). Apps that handle SIGTERM themselves
// call Shutdown instead.
func WithSignalDrain(grace time.Duration) Option {
	return optionFunc(func(c *config) { c.signalDrain = grace })
}

// WithMeterProvider exports the buffer's counters through mp.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}
