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
	"log/slog"
	"os"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Environment variables read by NewBuffer and NewRelay (options win over them).
const (
	// EnvBufferMaxBytes bounds the span buffer in bytes (estimated).
	EnvBufferMaxBytes = "KNTRACE_BUFFER_MAX_BYTES"
	// EnvBufferMaxSpans bounds the span buffer in spans.
	EnvBufferMaxSpans = "KNTRACE_BUFFER_MAX_SPANS"
	// EnvBatchSize is the SDK's batch size variable, honoured by Buffer.
	EnvBatchSize = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
	// EnvScheduleDelay is the SDK's batch delay variable (milliseconds).
	EnvScheduleDelay = "OTEL_BSP_SCHEDULE_DELAY"
	// EnvExportTimeout is the SDK's export timeout variable (milliseconds).
	EnvExportTimeout = "OTEL_BSP_EXPORT_TIMEOUT"
	// EnvRelayAddress is the relay's listen address.
	EnvRelayAddress = "KNTRACE_RELAY_ADDRESS"
	// EnvRelayMaxBytes bounds the relay's queue of payloads in bytes.
	EnvRelayMaxBytes = "KNTRACE_RELAY_MAX_BYTES"
	// EnvRelayMaxRequestBytes bounds one decompressed request body.
	EnvRelayMaxRequestBytes = "KNTRACE_RELAY_MAX_REQUEST_BYTES"
)

// Backoff is an exponential backoff with jitter: the n-th consecutive retry
// waits Initial*Multiplier^(n-1), capped at Max, then scaled by a random
// factor in [1-Jitter, 1+Jitter).
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
}

// DefaultBackoff suits a collector that comes up a few seconds after the app.
var DefaultBackoff = Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, Jitter: 0.2}

// delay is the wait before retry number attempt (1-based); r is in [0,1).
func (b Backoff) delay(attempt int, r float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(b.Initial)
	for i := 1; i < attempt && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	d *= 1 - b.Jitter + 2*b.Jitter*r
	if d < 0 {
		d = 0
	}
	return time.Duration(d)
}

func (b Backoff) valid() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Multiplier < 1 {
		b.Multiplier = 1
	}
	if b.Jitter < 0 || b.Jitter > 1 {
		b.Jitter = DefaultBackoff.Jitter
	}
	return b
}

// shared holds what Buffer and Relay both take.
type shared struct {
	backoff       Backoff
	meterProvider metric.MeterProvider
	logger        *slog.Logger
	getenv        func(string) string
}

func defaultShared() shared {
	return shared{
		backoff:       DefaultBackoff,
		meterProvider: noop.NewMeterProvider(),
		logger:        slog.Default(),
		getenv:        os.Getenv,
	}
}

// Option configures both a Buffer and a Relay.
type Option interface {
	BufferOption
	RelayOption
}

type sharedOption func(*shared)

func (f sharedOption) applyBuffer(c *bufferConfig) { f(&c.shared) }
func (f sharedOption) applyRelay(c *relayConfig)   { f(&c.shared) }

// WithBackoff sets the retry backoff (default DefaultBackoff).
func WithBackoff(b Backoff) Option {
	return sharedOption(func(c *shared) { c.backoff = b.valid() })
}

// WithMeterProvider exports the counters through mp (default: no metrics).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return sharedOption(func(c *shared) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithLogger sets the logger for the once-only messages (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return sharedOption(func(c *shared) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithEnv replaces os.Getenv as the source of the environment variables (tests,
// or a config map).
func WithEnv(getenv func(string) string) Option {
	return sharedOption(func(c *shared) {
		if getenv != nil {
			c.getenv = getenv
		}
	})
}

// envInt reads a positive integer; a bad value is logged and ignored.
func envInt(c *shared, name string, into *int) {
	v := c.getenv(name)
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		c.logger.Warn("kntrace: ignoring invalid environment variable, want a positive integer", "name", name, "value", v)
		return
	}
	*into = n
}

// envMillis reads a positive number of milliseconds.
func envMillis(c *shared, name string, into *time.Duration) {
	var n int
	envInt(c, name, &n)
	if n > 0 {
		*into = time.Duration(n) * time.Millisecond
	}
}
