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

package podstart

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/otlprelay"
)

// Defaults of a Server.
const (
	// DefaultWait is how long a report waits for the kubelet's and the API
	// server's spans (they export in batches, the kubelet's syncPod only
	// once the pod's containers started).
	DefaultWait = 30 * time.Second
	// DefaultMaxPending bounds the reports waiting.
	DefaultMaxPending = 256
	// maxReportBytes bounds a report's body.
	maxReportBytes = 64 << 10
)

type config struct {
	tp         trace.TracerProvider
	relay      *otlprelay.Relay
	wait       time.Duration
	maxPending int
	logger     *slog.Logger
	index      *Index
}

// Option configures a Server.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets the provider of the phase spans (default: the
// global one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithRelay forwards every export the server receives to the collector
// through r (default: none, the spans are only indexed).
func WithRelay(r *otlprelay.Relay) Option {
	return optionFunc(func(c *config) { c.relay = r })
}

// WithWait sets how long a report waits for its records (default
// DefaultWait).
func WithWait(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.wait = d
		}
	})
}

// WithMaxPending bounds the reports waiting for records (default
// DefaultMaxPending); more are refused with 429.
func WithMaxPending(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxPending = n
		}
	})
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithIndex sets the index (default NewIndex()).
func WithIndex(x *Index) Option {
	return optionFunc(func(c *config) { c.index = x })
}

func newConfig(opts []Option) config {
	c := config{wait: DefaultWait, maxPending: DefaultMaxPending}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.index == nil {
		c.index = NewIndex()
	}
	return c
}
