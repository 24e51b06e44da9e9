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
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"knative.dev/serving/pkg/queue/sharedmain"

	"github.com/kntrace/kntrace/propagation"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/scaling"
)

// Defaults.
const (
	// DefaultPodInfoAnnotations is where Knative mounts the pod's
	// annotations (features.knative.dev/queueproxy-podinfo).
	DefaultPodInfoAnnotations = sharedmain.PodInfoAnnotationsPath
	// DefaultRelayDrainTimeout bounds the relay's drain after Knative's Main
	// has returned.
	DefaultRelayDrainTimeout = 10 * time.Second
)

type config struct {
	getenv      func(string) string
	podInfo     string
	logger      *slog.Logger
	relayOpts   []scaling.RelayOption
	timeline    *scaling.Timeline
	drain       time.Duration
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
func WithRelayOptions(opts ...scaling.RelayOption) Option {
	return optionFunc(func(c *config) { c.relayOpts = append(c.relayOpts, opts...) })
}

// WithTimeline sets the cold-start timeline (default scaling.NewTimeline(),
// whose start is this process's start).
func WithTimeline(t *scaling.Timeline) Option {
	return optionFunc(func(c *config) { c.timeline = t })
}

// WithRelayDrainTimeout bounds the relay's drain after Main (default
// KNTRACE_RELAY_DRAIN_TIMEOUT, else DefaultRelayDrainTimeout).
func WithRelayDrainTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.drain = d })
}

// QueueProxy is kntrace's part of one queue-proxy process: the relay, the
// environment Knative's Main must see, and the sharedmain Option.
type QueueProxy struct {
	cfg         config
	tracing     Tracing
	rate        float64
	rateSource  string
	propagator  *propagation.Propagator
	annotations map[string]string
	relay       *scaling.Relay
	env         map[string]string
	timeline    *scaling.Timeline
	revision    string
}

// Setup reads the environment and the pod's annotations, starts the relay
// when config-observability exports spans, and computes the environment
// Knative's Main must run with (Environment). Only an OBSERVABILITY_CONFIG
// that is not JSON is an error (Knative's Main would refuse it too); every
// other problem is logged and costs the feature, never the queue-proxy.
func Setup(opts ...Option) (*QueueProxy, error) {
	c := config{getenv: os.Getenv, logger: slog.Default(), readFile: os.ReadFile, probePeriod: 25 * time.Millisecond}
	for _, o := range opts {
		o.apply(&c)
	}
	if c.podInfo == "" {
		c.podInfo = c.getenv(EnvPodInfoAnnotations)
	}
	if c.podInfo == "" {
		c.podInfo = DefaultPodInfoAnnotations
	}
	if c.drain <= 0 {
		c.drain = DefaultRelayDrainTimeout
		if v := c.getenv(EnvRelayDrainTimeout); v != "" {
			if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
				c.drain = time.Duration(ms) * time.Millisecond
			} else {
				c.logger.Warn("kntrace: ignoring invalid environment variable, want milliseconds", "name", EnvRelayDrainTimeout, "value", v)
			}
		}
	}
	if v := c.getenv(EnvRelay); v != "" {
		if on, err := strconv.ParseBool(v); err == nil {
			c.noRelay = !on
		}
	}
	if c.timeline == nil {
		c.timeline = scaling.NewTimeline()
	}

	q := &QueueProxy{cfg: c, timeline: c.timeline, env: map[string]string{}, revision: c.getenv("SERVING_REVISION")}
	t, all, err := ParseObservability(c.getenv(EnvObservabilityConfig))
	if err != nil {
		return nil, err
	}
	q.tracing = t
	q.annotations = q.readAnnotations()

	q.rate, q.rateSource = t.SamplingRate, "config-observability tracing-sampling-rate"
	if v, ok := q.annotations[revisions.SamplingRateAnnotation]; ok {
		if r, ferr := revisions.ParseSamplingRate(v); ferr != nil {
			c.logger.Warn("kntrace: ignoring annotation", "error", ferr.Error())
		} else {
			q.rate, q.rateSource = r, revisions.SamplingRateAnnotation
		}
	}
	q.propagator = q.buildPropagator()

	if !t.Exports() {
		return q, nil
	}
	if c.getenv(EnvSampler) == "" {
		q.env[EnvSampler] = ParentBasedTraceIDRatio
		q.env[EnvSamplerArg] = strconv.FormatFloat(min(max(q.rate, 0), 1), 'g', -1, 64)
	}
	if c.noRelay {
		return q, nil
	}
	relayOpts := append([]scaling.RelayOption{
		scaling.WithCollector(scaling.Protocol(t.Protocol), collectorEndpoint(t, c.getenv)),
		scaling.WithLogger(c.logger),
		scaling.WithEnv(c.getenv),
	}, c.relayOpts...)
	relay, err := scaling.NewRelay(relayOpts...)
	if err != nil {
		c.logger.Error("kntrace: no OTLP relay; spans go to the collector directly, as upstream", "error", err)
		return q, nil
	}
	if err := relay.Start(); err != nil {
		c.logger.Error("kntrace: no OTLP relay; spans go to the collector directly, as upstream", "error", err)
		_ = relay.Shutdown(context.Background())
		return q, nil
	}
	q.relay = relay
	endpoint := "http://" + relay.Addr() + scaling.TracesPath
	redirected := t
	redirected.Protocol, redirected.Endpoint = relayExportProtocolValue, endpoint
	oc, err := formatObservability(all, redirected)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvObservabilityConfig, err)
	}
	q.env[EnvObservabilityConfig] = oc
	q.env[EnvTracesEndpoint] = endpoint
	q.env[EnvTracesProtocol] = relayExportProtocolValue
	return q, nil
}

func (q *QueueProxy) readAnnotations() map[string]string {
	data, err := q.cfg.readFile(q.cfg.podInfo)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			q.cfg.logger.Warn("kntrace: cannot read the pod's annotations", "path", q.cfg.podInfo, "error", err)
		}
		return map[string]string{}
	}
	a, err := ParseAnnotations(data)
	if err != nil {
		q.cfg.logger.Warn("kntrace: skipping malformed lines of the pod's annotations", "path", q.cfg.podInfo, "error", err)
	}
	return a
}

// buildPropagator is the bridge: it reads every format kntrace knows and
// writes the kntrace.dev/propagators annotation's formats, else
// OTEL_PROPAGATORS's, else W3C tracecontext and baggage.
func (q *QueueProxy) buildPropagator() *propagation.Propagator {
	extract := propagation.WithExtractOrder(propagation.DefaultExtractOrder()...)
	for _, src := range []struct{ name, value string }{
		{revisions.PropagatorsAnnotation, q.annotations[revisions.PropagatorsAnnotation]},
		{EnvPropagators, q.cfg.getenv(EnvPropagators)},
	} {
		if strings.TrimSpace(src.value) == "" {
			continue
		}
		fs, err := propagation.ParseList(src.value)
		if err != nil {
			q.cfg.logger.Warn("kntrace: ignoring propagators", "source", src.name, "value", src.value, "error", err)
			continue
		}
		return propagation.New(propagation.WithFormats(fs...), extract)
	}
	return propagation.New(extract)
}

// Environment is what Main must see, to set before it starts: the sampler
// and, with the relay running, the exporter pointed at it.
func (q *QueueProxy) Environment() map[string]string {
	out := make(map[string]string, len(q.env))
	for k, v := range q.env {
		out[k] = v
	}
	return out
}

// Relay is the running relay, nil without one.
func (q *QueueProxy) Relay() *scaling.Relay { return q.relay }

// SamplingRate is the rate new traces are sampled at and where it came from.
func (q *QueueProxy) SamplingRate() (float64, string) { return q.rate, q.rateSource }

// Propagator is the bridge the queue-proxy installs.
func (q *QueueProxy) Propagator() *propagation.Propagator { return q.propagator }

// Timeline is the pod's cold-start timeline.
func (q *QueueProxy) Timeline() *scaling.Timeline { return q.timeline }

// Shutdown drains the relay (bounded by the drain timeout and ctx) and
// stops it. Spans it could not forward are dropped and counted.
func (q *QueueProxy) Shutdown(ctx context.Context) error {
	if q.relay == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.drain)
	defer cancel()
	err := q.relay.Shutdown(ctx)
	st := q.relay.Stats()
	q.cfg.logger.Info("kntrace: relay stopped", "accepted_spans", st.AcceptedSpans, "forwarded_spans", st.ForwardedSpans, "dropped_spans", st.DroppedSpans, "rejected_requests", st.RejectedRequests)
	return err
}

// Main runs Knative's queue-proxy with kntrace: Setup, the environment it
// computes, sharedmain.Main with Option and extra, then Shutdown.
func Main(extra ...sharedmain.Option) error {
	q, err := Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kntrace:", err)
		return err
	}
	for k, v := range q.Environment() {
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("setenv %s: %w", k, err)
		}
	}
	mainErr := sharedmain.Main(append([]sharedmain.Option{q.Option()}, extra...)...)
	if err := q.Shutdown(context.Background()); err != nil {
		q.cfg.logger.Warn("kntrace: relay drain incomplete", "error", err)
	}
	return mainErr
}
