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

// Package backoff is the retry policy kntrace's span buffer and OTLP relay
// share while a collector is unreachable, and the activator uses for its
// cold-start reports: exponential, capped, with jitter, as the
// OpenTelemetry Collector's exporters retry; and RetryAfter, the wait a
// server asks for.
package backoff

import "time"

// Policy is how long to wait before each retry.
type Policy struct {
	// Initial is the wait after the first failure.
	Initial time.Duration
	// Max caps the wait.
	Max time.Duration
	// Multiplier grows the wait after each further failure (at least 1).
	Multiplier float64
	// Jitter spreads each wait uniformly by ±Jitter of itself (0 to 1).
	Jitter float64
}

// Default is 100 ms doubling to 2 s, ±20%.
var Default = Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2, Jitter: 0.2}

// Delay is the wait after the attempt-th consecutive failure (1 is the
// first), with r a uniform random number in [0, 1) placing it in the jitter.
func (p Policy) Delay(attempt int, r float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(p.Initial)
	for i := 1; i < attempt && d < float64(p.Max); i++ {
		d *= p.Multiplier
	}
	if d > float64(p.Max) {
		d = float64(p.Max)
	}
	d *= 1 - p.Jitter + 2*p.Jitter*r
	if d < 0 {
		d = 0
	}
	return time.Duration(d)
}

// Valid returns p with out-of-range fields replaced: Initial by Default's,
// a Max below Initial by Initial, a Multiplier below 1 by 1 and a Jitter
// outside [0, 1] by Default's.
func (p Policy) Valid() Policy {
	if p.Initial <= 0 {
		p.Initial = Default.Initial
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.Multiplier < 1 {
		p.Multiplier = 1
	}
	if p.Jitter < 0 || p.Jitter > 1 {
		p.Jitter = Default.Jitter
	}
	return p
}
