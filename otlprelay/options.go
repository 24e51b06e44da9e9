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

package otlprelay

import (
	"errors"
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
	// EnvAddress is the relay's listen address.
	EnvAddress = "KNTRACE_RELAY_ADDRESS"
	// EnvMaxBytes bounds the relay's queue of payloads in bytes.
	EnvMaxBytes = "KNTRACE_RELAY_MAX_BYTES"
	// EnvMaxRequestBytes bounds one decompressed request body.
	EnvMaxRequestBytes = "KNTRACE_RELAY_MAX_REQUEST_BYTES"
)

// Relay defaults. Each can be changed with an option and, where named, an
// environment variable.
const (
	// DefaultAddress (KNTRACE_RELAY_ADDRESS) is where OpenTelemetry SDKs
	// in every language send OTLP/HTTP by default.
	DefaultAddress = conventions.RelayAddress
	// DefaultMaxBytes (KNTRACE_RELAY_MAX_BYTES) bounds the queue of
	// payloads (protobuf size after decompression and JSON conversion).
	DefaultMaxBytes = conventions.DefaultRelayMaxBytes
	// DefaultMaxRequestBytes (KNTRACE_RELAY_MAX_REQUEST_BYTES) bounds one
	// request body after decompression.
	DefaultMaxRequestBytes = conventions.DefaultRelayMaxRequestBytes
	// DefaultForwardBatchBytes bounds one forwarded export: queued payloads are
	// concatenated (protobuf concatenation merges their resource spans) up to
	// this size.
	DefaultForwardBatchBytes = 1 << 20
	// DefaultForwardTimeout bounds one forwarded export.
	DefaultForwardTimeout = 10 * time.Second
	// DefaultRetryAfter is the Retry-After the relay answers when full.
	DefaultRetryAfter = time.Second
	// DefaultDrainQuietPeriod is how long Drain waits, with the queue empty,
	// for more spans from an app that is flushing.
	DefaultDrainQuietPeriod = 500 * time.Millisecond
)

type config struct {
	addr            string
	endpoint        string
	protocol        string
	headers         map[string]string
	maxBytes        int
	maxRequestBytes int
	forwardBytes    int
	forwardTimeout  time.Duration
	retryAfter      time.Duration
	quietPeriod     time.Duration
	forwarder       forwarder
	backoff         backoff.Policy
	meterProvider   metric.MeterProvider
	logger          *slog.Logger
	getenv          func(string) string
}

// Option configures a Relay.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithAddress sets the listen address (default DefaultAddress; use
// "127.0.0.1:0" for a free port, then Addr).
func WithAddress(addr string) Option {
	return optionFunc(func(c *config) { c.addr = addr })
}

// WithCollector sets where the relay forwards, as Knative's
// config-observability says it: protocol "grpc" with an endpoint such as
// http://collector:4317 (https:// for TLS), or "http/protobuf" with a URL
// such as http://collector:4318/v1/traces (the path defaults to /v1/traces).
func WithCollector(protocol, endpoint string) Option {
	return optionFunc(func(c *config) { c.protocol, c.endpoint = protocol, endpoint })
}

// WithHeaders adds headers (gRPC metadata) to every forwarded export.
func WithHeaders(h map[string]string) Option {
	return optionFunc(func(c *config) { c.headers = h })
}

// WithQueueBytes bounds the queue of payloads.
func WithQueueBytes(n int) Option {
	return optionFunc(func(c *config) { c.maxBytes = n })
}

// WithMaxRequestBytes bounds one request body after decompression.
func WithMaxRequestBytes(n int) Option {
	return optionFunc(func(c *config) { c.maxRequestBytes = n })
}

// WithForwardBatchBytes bounds one forwarded export.
func WithForwardBatchBytes(n int) Option {
	return optionFunc(func(c *config) { c.forwardBytes = n })
}

// WithForwardTimeout bounds one forwarded export.
func WithForwardTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.forwardTimeout = d })
}

// WithRetryAfter sets the Retry-After answered when the queue is full.
func WithRetryAfter(d time.Duration) Option {
	return optionFunc(func(c *config) { c.retryAfter = d })
}

// WithDrainQuietPeriod sets how long Drain waits with an empty queue for more
// spans before it returns.
func WithDrainQuietPeriod(d time.Duration) Option {
	return optionFunc(func(c *config) { c.quietPeriod = d })
}

// WithBackoff sets the retry policy while forwarding fails (default
// backoff.Default).
func WithBackoff(p backoff.Policy) Option {
	return optionFunc(func(c *config) { c.backoff = p.Valid() })
}

// WithMeterProvider reports the relay's counters through mp (default: none).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithLogger sets the logger of the relay's warnings (default
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
// win over the environment), and checks the result.
func newConfig(opts []Option) (config, error) {
	c := config{
		addr:            DefaultAddress,
		maxBytes:        DefaultMaxBytes,
		maxRequestBytes: DefaultMaxRequestBytes,
		forwardBytes:    DefaultForwardBatchBytes,
		forwardTimeout:  DefaultForwardTimeout,
		retryAfter:      DefaultRetryAfter,
		quietPeriod:     DefaultDrainQuietPeriod,
		backoff:         backoff.Default,
		meterProvider:   noop.NewMeterProvider(),
		logger:          slog.Default(),
		getenv:          os.Getenv,
	}
	// Options are applied twice: first so WithEnv reaches the environment
	// parsing, then so they win over the environment.
	for _, o := range opts {
		o.apply(&c)
	}
	if a := c.getenv(EnvAddress); a != "" {
		c.addr = a
	}
	var envErrs []error
	for _, v := range []struct {
		name string
		into *int
	}{{EnvMaxBytes, &c.maxBytes}, {EnvMaxRequestBytes, &c.maxRequestBytes}} {
		n, ok, err := envvar.PositiveInt(c.getenv, v.name)
		envErrs = append(envErrs, err)
		if ok {
			*v.into = n
		}
	}
	for _, o := range opts {
		o.apply(&c)
	}
	c.logger = c.logger.With("logger", "kntrace.otlprelay")
	for _, err := range envErrs {
		if err != nil {
			c.logger.Warn("ignoring an invalid environment variable", "error", err)
		}
	}
	if c.maxBytes <= 0 || c.maxRequestBytes <= 0 || c.forwardBytes <= 0 {
		return c, errors.New("relay: queue, request and forward batch sizes must be positive")
	}
	c.maxRequestBytes = min(c.maxRequestBytes, c.maxBytes)
	if c.forwardTimeout <= 0 {
		c.forwardTimeout = DefaultForwardTimeout
	}
	c.retryAfter = max(c.retryAfter, time.Second) // Retry-After is in whole seconds
	return c, nil
}
