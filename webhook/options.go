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

package webhook

import (
	"time"

	"go.uber.org/zap"
)

type runConfig struct {
	address string
	version string
	logger  *zap.SugaredLogger
	resync  time.Duration
	grace   time.Duration
	lease   Lease
}

// Lease is the leader election of the reconciling half: the replica holding
// the lease converges Knative's ConfigMaps, writes the caBundle and rotates
// the certificate; every replica serves admission.
type Lease struct {
	// Duration is how long a lease is valid; a replica that loses its node
	// is replaced after at most Duration.
	Duration time.Duration
	// RenewDeadline is how long the leader keeps retrying to renew before it
	// stops reconciling.
	RenewDeadline time.Duration
	// RetryPeriod is how often candidates try to take the lease.
	RetryPeriod time.Duration
}

// DefaultLease fails over within about 15 seconds (Knative's own
// controllers default to 60s/40s/10s, in config-leader-election).
var DefaultLease = Lease{Duration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}

// LeaseComponent names the leases in SYSTEM_NAMESPACE:
// <LeaseComponent>.<queue>.00-of-01, one for the reconciler ("reconciler")
// and one for knative.dev/pkg's certificates controller.
const LeaseComponent = "kntrace-webhook"

// Option configures Run.
type Option interface{ apply(*runConfig) }

type runOptionFunc func(*runConfig)

func (f runOptionFunc) apply(c *runConfig) { f(c) }

// WithAddress is the TLS listen address; default ":8443".
func WithAddress(addr string) Option { return runOptionFunc(func(c *runConfig) { c.address = addr }) }

// WithVersion is the kntrace version recorded in injected resource
// attributes; default "devel".
func WithVersion(v string) Option { return runOptionFunc(func(c *runConfig) { c.version = v }) }

// WithLogger sets the logger; default a production zap logger at info.
func WithLogger(l *zap.SugaredLogger) Option {
	return runOptionFunc(func(c *runConfig) { c.logger = l })
}

// WithResync is how often the controller converges Knative's ConfigMaps
// and the caBundle even without an event; default 10 minutes.
func WithResync(d time.Duration) Option { return runOptionFunc(func(c *runConfig) { c.resync = d }) }

// WithLease sets the leader election's timing; default DefaultLease. The
// renew deadline must be below the duration and the retry period below the
// renew deadline, as client-go requires.
func WithLease(l Lease) Option { return runOptionFunc(func(c *runConfig) { c.lease = l }) }

// WithGracePeriod is how long the server drains at shutdown; default 5s.
func WithGracePeriod(d time.Duration) Option {
	return runOptionFunc(func(c *runConfig) { c.grace = d })
}
