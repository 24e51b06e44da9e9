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
	"fmt"
	"maps"
	"os"
	"strings"

	"knative.dev/serving/pkg/queue/sharedmain"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/otlprelay"
	"github.com/kntrace/kntrace/propagation"
	"github.com/kntrace/kntrace/revisions"
)

// QueueProxy is kntrace's part of one queue-proxy process: the relay, the
// environment Knative's Main must see, and the sharedmain Option.
type QueueProxy struct {
	cfg         config
	tracing     Tracing
	rate        float64
	rateSource  string
	propagator  *propagation.Propagator
	annotations map[string]string
	relay       *otlprelay.Relay
	env         map[string]string
	timeline    *coldstart.Timeline
	revision    string
}

// Setup reads the environment and the pod's annotations, starts the relay
// when config-observability exports spans, and computes the environment
// Knative's Main must run with (Environment). Only an OBSERVABILITY_CONFIG
// that is not JSON is an error (Knative's Main would refuse it too); every
// other problem is logged and costs the feature, never the queue-proxy.
func Setup(opts ...Option) (*QueueProxy, error) {
	c := newConfig(opts)
	q := &QueueProxy{cfg: c, timeline: c.timeline, env: map[string]string{}, revision: c.getenv("SERVING_REVISION")}
	t, all, err := ParseObservability(c.getenv(EnvObservabilityConfig))
	if err != nil {
		return nil, err
	}
	q.tracing = t
	q.annotations = q.readAnnotations()

	q.rate, q.rateSource = t.SamplingRate, "config-observability tracing-sampling-rate"
	if v, ok := q.annotations[conventions.SamplingRateAnnotation]; ok {
		if r, ferr := revisions.ParseSamplingRate(v); ferr != nil {
			c.logger.Warn("ignoring annotation", "error", ferr.Error())
		} else {
			q.rate, q.rateSource = r, conventions.SamplingRateAnnotation
		}
	}
	q.propagator = q.buildPropagator()
	limits, drain := q.relayLimits()
	if drain > 0 && !c.drainSet {
		q.cfg.drain = drain
	}

	if !t.Exports() {
		return q, nil
	}
	maps.Copy(q.env, conventions.SamplerEnv(q.rate, c.getenv))
	if c.noRelay {
		return q, nil
	}
	relayOpts := append([]otlprelay.Option{
		otlprelay.WithCollector(t.Protocol, collectorEndpoint(t, c.getenv)),
		otlprelay.WithLogger(c.logger),
		otlprelay.WithEnv(c.getenv),
	}, append(limits, c.relayOpts...)...)
	relay, err := otlprelay.New(relayOpts...)
	if err != nil {
		c.logger.Error("no OTLP relay; spans go to the collector directly, as upstream", "error", err)
		return q, nil
	}
	if err := relay.Start(); err != nil {
		c.logger.Error("no OTLP relay; spans go to the collector directly, as upstream", "error", err)
		_ = relay.Shutdown(context.Background())
		return q, nil
	}
	q.relay = relay
	endpoint := "http://" + relay.Addr() + conventions.TracesPath
	redirected := t
	redirected.Protocol, redirected.Endpoint = conventions.ProtocolHTTPProtobuf, endpoint
	oc, err := formatObservability(all, redirected)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvObservabilityConfig, err)
	}
	q.env[EnvObservabilityConfig] = oc
	q.env[conventions.EnvTracesEndpoint] = endpoint
	q.env[conventions.EnvTracesProtocol] = conventions.ProtocolHTTPProtobuf
	return q, nil
}

// buildPropagator is the bridge: it reads every format kntrace knows and
// writes the kntrace.dev/propagators annotation's formats, else
// OTEL_PROPAGATORS's, else W3C tracecontext and baggage.
func (q *QueueProxy) buildPropagator() *propagation.Propagator {
	extract := propagation.WithExtractOrder(propagation.DefaultExtractOrder()...)
	for _, src := range []struct{ name, value string }{
		{conventions.PropagatorsAnnotation, q.annotations[conventions.PropagatorsAnnotation]},
		{conventions.EnvPropagators, q.cfg.getenv(conventions.EnvPropagators)},
	} {
		if strings.TrimSpace(src.value) == "" {
			continue
		}
		fs, err := propagation.ParseList(src.value)
		if err != nil {
			q.cfg.logger.Warn("ignoring propagators", "source", src.name, "value", src.value, "error", err)
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
func (q *QueueProxy) Relay() *otlprelay.Relay { return q.relay }

// SamplingRate is the rate new traces are sampled at and where it came from.
func (q *QueueProxy) SamplingRate() (float64, string) { return q.rate, q.rateSource }

// Propagator is the bridge the queue-proxy installs.
func (q *QueueProxy) Propagator() *propagation.Propagator { return q.propagator }

// Timeline is the pod's cold-start timeline.
func (q *QueueProxy) Timeline() *coldstart.Timeline { return q.timeline }

// Shutdown waits for the app to stop listening (it flushes its spans at
// SIGTERM, which it gets only after Knative's Main has returned), then
// drains the relay and stops it; the wait and the drain are each bounded
// by the drain timeout, and both by ctx. Spans the relay could not forward
// are dropped and counted.
func (q *QueueProxy) Shutdown(ctx context.Context) error {
	if q.relay == nil {
		return nil
	}
	wctx, wcancel := context.WithTimeout(ctx, q.cfg.drain)
	if err := q.waitAppStopped(wctx); err != nil {
		q.cfg.logger.Warn("draining the relay before the app stopped", "error", err)
	}
	wcancel()
	ctx, cancel := context.WithTimeout(ctx, q.cfg.drain)
	defer cancel()
	err := q.relay.Shutdown(ctx)
	st := q.relay.Stats()
	q.cfg.logger.Info("relay stopped", "accepted_spans", st.AcceptedSpans, "forwarded_spans", st.ForwardedSpans, "dropped_spans", st.DroppedSpans,
		"rejected_requests", st.RejectedRequests, "forward_retries", st.Retries)
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
		q.cfg.logger.Warn("relay drain incomplete", "error", err)
	}
	return mainErr
}
