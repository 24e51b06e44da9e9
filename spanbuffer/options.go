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
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/envvar"
)

// Environment variables New reads; options win over them.
const (
	// EnvMaxBytes bounds the buffer in bytes (estimated).
	EnvMaxBytes = "KNTRACE_BUFFER_MAX_BYTES"
	// EnvMaxSpans bounds the buffer in spans.
	EnvMaxSpans = "KNTRACE_BUFFER_MAX_SPANS"
)

// Defaults. Each can be changed with an option and, where named, an
// environment variable.
const (
	// DefaultMaxBytes (KNTRACE_BUFFER_MAX_BYTES): 8 MiB of estimated span size.
	DefaultMaxBytes = 8 << 20
	// DefaultMaxSpans (KNTRACE_BUFFER_MAX_SPANS).
	DefaultMaxSpans = 16384
	// DefaultBatchSize (OTEL_BSP_MAX_EXPORT_BATCH_SIZE), as the SDK's.
	DefaultBatchSize = 512
	// DefaultBatchTimeout (OTEL_BSP_SCHEDULE_DELAY), as the SDK's: the longest
	// a span waits for a batch to fill while the exporter is healthy.
	DefaultBatchTimeout = 5 * time.Second
	// DefaultExportTimeout (OTEL_BSP_EXPORT_TIMEOUT) bounds one export call.
	DefaultExportTimeout = 10 * time.Second
)

type config struct {
	maxBytes      int
	maxSpans      int
	batchSize     int
	batchTimeout  time.Duration
	exportTimeout time.Duration
	backoff       backoff.Policy
	meterProvider metric.MeterProvider
	logger        *slog.Logger
	getenv        func(string) string
}

// Option configures a Buffer.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxBytes bounds the buffered spans' estimated size.
func WithMaxBytes(n int) Option {
	return optionFunc(func(c *config) { c.maxBytes = n })
}

// WithMaxSpans bounds the number of buffered spans.
func WithMaxSpans(n int) Option {
	return optionFunc(func(c *config) { c.maxSpans = n })
}

// WithBatchSize sets the most spans per export.
func WithBatchSize(n int) Option {
	return optionFunc(func(c *config) { c.batchSize = n })
}

// WithBatchTimeout sets how long a span waits for a batch to fill.
func WithBatchTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.batchTimeout = d })
}

// WithExportTimeout bounds each export call.
func WithExportTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.exportTimeout = d })
}

// WithBackoff sets the retry policy while exports fail (default
// backoff.Default).
func WithBackoff(p backoff.Policy) Option {
	return optionFunc(func(c *config) { c.backoff = p.Valid() })
}

// WithMeterProvider reports the buffer's counters through mp (default: none).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithLogger sets the logger of the buffer's warnings (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithEnv replaces os.Getenv as the source of the environment variables.
func WithEnv(getenv func(string) string) Option {
	return optionFunc(func(c *config) {
		if getenv != nil {
			c.getenv = getenv
		}
	})
}

// newConfig applies the defaults, then the environment, then opts (which
// win over the environment); out-of-range values fall back to the defaults.
func newConfig(opts []Option) config {
	c := config{
		maxBytes:      DefaultMaxBytes,
		maxSpans:      DefaultMaxSpans,
		batchSize:     DefaultBatchSize,
		batchTimeout:  DefaultBatchTimeout,
		exportTimeout: DefaultExportTimeout,
		backoff:       backoff.Default,
		meterProvider: noop.NewMeterProvider(),
		logger:        slog.Default(),
		getenv:        os.Getenv,
	}
	// Options are applied twice: first so WithEnv and WithLogger reach the
	// environment parsing, then so they win over the environment.
	for _, o := range opts {
		o.apply(&c)
	}
	var envErrs []error
	for _, v := range []struct {
		name string
		into *int
	}{{EnvMaxBytes, &c.maxBytes}, {EnvMaxSpans, &c.maxSpans}, {conventions.EnvBatchSize, &c.batchSize}} {
		n, ok, err := envvar.PositiveInt(c.getenv, v.name)
		envErrs = append(envErrs, err)
		if ok {
			*v.into = n
		}
	}
	for _, v := range []struct {
		name string
		into *time.Duration
	}{{conventions.EnvScheduleDelay, &c.batchTimeout}, {conventions.EnvExportTimeout, &c.exportTimeout}} {
		d, ok, err := envvar.Millis(c.getenv, v.name)
		envErrs = append(envErrs, err)
		if ok {
			*v.into = d
		}
	}
	for _, o := range opts {
		o.apply(&c)
	}
	c.logger = c.logger.With("logger", "kntrace.spanbuffer")
	for _, err := range envErrs {
		if err != nil {
			c.logger.Warn("ignoring an invalid environment variable", "error", err)
		}
	}
	if c.maxSpans <= 0 {
		c.maxSpans = DefaultMaxSpans
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxBytes
	}
	if c.batchSize <= 0 {
		c.batchSize = DefaultBatchSize
	}
	c.batchSize = min(c.batchSize, c.maxSpans)
	if c.batchTimeout <= 0 {
		c.batchTimeout = DefaultBatchTimeout
	}
	if c.exportTimeout <= 0 {
		c.exportTimeout = DefaultExportTimeout
	}
	return c
}
