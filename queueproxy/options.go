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

package queueproxy

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"knative.dev/serving/pkg/queue/sharedmain"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/envvar"
	"github.com/kntrace/kntrace/otlprelay"
)

// Defaults.
const (
	// DefaultPodInfoAnnotations is where Knative mounts the pod's
	// annotations (features.knative.dev/queueproxy-podinfo).
	DefaultPodInfoAnnotations = sharedmain.PodInfoAnnotationsPath
	// DefaultRelayDrainTimeout bounds the relay's drain after Knative's Main
	// has returned.
	DefaultRelayDrainTimeout = conventions.DefaultRelayDrainTimeout
)

// Environment variables kntrace's queue-proxy reads besides Knative's own
// and OBSERVABILITY_CONFIG; options win over them.
const (
	// EnvPodInfoAnnotations overrides the path of the pod's annotations file
	// (default DefaultPodInfoAnnotations).
	EnvPodInfoAnnotations = "KNTRACE_PODINFO_ANNOTATIONS"
	// EnvRelayDrainTimeout bounds, in milliseconds, the relay's drain after
	// Knative's Main has returned (default DefaultRelayDrainTimeout).
	EnvRelayDrainTimeout = "KNTRACE_RELAY_DRAIN_TIMEOUT"
	// EnvRelay set to "false" runs without the relay (the exporter stays as
	// Knative configures it).
	EnvRelay = "KNTRACE_RELAY"
)

type config struct {
	getenv      func(string) string
	podInfo     string
	logger      *slog.Logger
	relayOpts   []otlprelay.Option
	timeline    *coldstart.Timeline
	drain       time.Duration
	drainSet    bool // by WithRelayDrainTimeout, which wins over the annotation
	noRelay     bool
	readFile    func(string) ([]byte, error)
	probePeriod time.Duration
}

// Option configures Setup.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithEnv replaces os.Getenv as the source of the environment.
func WithEnv(getenv func(string) string) Option {
	return optionFunc(func(c *config) {
		if getenv != nil {
			c.getenv = getenv
		}
	})
}

// WithPodInfoPath sets the pod's annotations file (default
// KNTRACE_PODINFO_ANNOTATIONS, else DefaultPodInfoAnnotations).
func WithPodInfoPath(path string) Option {
	return optionFunc(func(c *config) { c.podInfo = path })
}

// WithLogger sets the logger of kntrace's own messages (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithRelayOptions passes options to the relay (after the collector Setup
// reads from OBSERVABILITY_CONFIG, so they may replace it).
func WithRelayOptions(opts ...otlprelay.Option) Option {
	return optionFunc(func(c *config) { c.relayOpts = append(c.relayOpts, opts...) })
}

// WithTimeline sets the cold-start timeline (default coldstart.NewTimeline(),
// whose start is this process's start).
func WithTimeline(t *coldstart.Timeline) Option {
	return optionFunc(func(c *config) { c.timeline = t })
}

// WithRelayDrainTimeout bounds the relay's drain after Main (default
// KNTRACE_RELAY_DRAIN_TIMEOUT, else DefaultRelayDrainTimeout).
func WithRelayDrainTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.drain = d })
}

// newConfig applies opts, then fills what they left unset from the
// environment and the defaults.
func newConfig(opts []Option) config {
	c := config{getenv: os.Getenv, logger: slog.Default(), readFile: os.ReadFile, probePeriod: 25 * time.Millisecond}
	for _, o := range opts {
		o.apply(&c)
	}
	c.logger = c.logger.With("logger", "kntrace.queueproxy")
	if c.podInfo == "" {
		c.podInfo = cmp.Or(c.getenv(EnvPodInfoAnnotations), DefaultPodInfoAnnotations)
	}
	c.drainSet = c.drain > 0
	if c.drain <= 0 {
		d, ok, err := envvar.Millis(c.getenv, EnvRelayDrainTimeout)
		if err != nil {
			c.logger.Warn("ignoring an invalid environment variable", "error", err)
		}
		c.drain = DefaultRelayDrainTimeout
		if ok {
			c.drain = d
		}
	}
	if v := c.getenv(EnvRelay); v != "" {
		if on, err := strconv.ParseBool(v); err == nil {
			c.noRelay = !on
		} else {
			c.logger.Warn("ignoring an invalid environment variable", "error", fmt.Errorf("%s=%q: want true or false", EnvRelay, v))
		}
	}
	if c.timeline == nil {
		// Knative sets SERVING_POD to the pod's name; the activator passes
		// it on with the cold start so its Kubernetes phases can be found.
		c.timeline = coldstart.NewTimeline(coldstart.WithSource(coldstart.SourceQueueProxy), coldstart.WithPod(c.getenv("SERVING_POD")))
	}
	return c
}
