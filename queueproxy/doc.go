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

// Package queueproxy is what kntrace adds to Knative's queue-proxy, applied
// through the supported extension point knative.dev/serving/pkg/queue/
// sharedmain (Main with Options). kntrace's cmd/queue is Main here.
//
// Before Knative's Main starts, Setup reads the queue-proxy's environment
// (OBSERVABILITY_CONFIG, as Knative's revision reconciler writes it) and the
// pod's annotations (the downward-API file Knative mounts at
// /etc/podinfo/annotations), then:
//
//   - starts the OTLP relay (package otlprelay) on 127.0.0.1:4318, forwarding to the
//     collector that config-observability names, and points the
//     queue-proxy's own exporter at it (OBSERVABILITY_CONFIG is rewritten to
//     http/protobuf on the relay, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set),
//     so spans of the queue-proxy and of an app in any language that
//     exports to localhost survive a collector that is not reachable yet and
//     scale to zero; the revision's kntrace.dev/relay-max-bytes,
//     kntrace.dev/relay-max-request-bytes and kntrace.dev/relay-drain-timeout
//     annotations (written by kntrace's webhook from config-kntrace when a
//     revision sets none) bound it, and win over KNTRACE_RELAY_*;
//   - makes sampling parent-based (OTEL_TRACES_SAMPLER=
//     parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG the rate of
//     config-observability, or of the revision's kntrace.dev/sampling-rate
//     annotation), which Knative's tracer provider leaves to the SDK; an
//     operator's own OTEL_TRACES_SAMPLER or _ARG wins (conventions.SamplerEnv).
//
// The files follow that order: options.go (Setup's options and the
// environment), observability.go, podinfo.go and relaylimits.go (what
// Setup reads), queueproxy.go (Setup, Main), sharedmain.go (the Option), spans.go,
// handler.go, transport.go and readiness.go (what the Option installs).
//
// The sharedmain Option then installs, once Knative has built its tracer
// provider:
//
//   - the propagation bridge as the global propagator (read by the server
//     handler Knative builds after the options run: a B3- or Jaeger-only
//     request continues its trace) and on the transport to the app (formats
//     of the kntrace.dev/propagators annotation, W3C by default);
//   - a span processor that names the server span "<METHOD> <revision>"
//     and remembers each request's server and kn.queueproxy.proxy spans, so
//     that the proxy handler can parent the call to the app under
//     kn.queueproxy.proxy instead of the kn.queueproxy.wait span upstream
//     ends before the call starts;
//   - a cold-start mark: the first request the pod serves gets
//     faas.coldstart=true on its server span, a kntrace.coldstart span
//     (process start → app ready → first request, from coldstart.Timeline; app
//     ready is the first successful readiness probe of the user container)
//     and the coldstart.Header response header the kntrace activator
//     reads and removes.
//
// At SIGTERM Knative drains requests as upstream does; then Knative flushes
// its spans into the relay, the relay waits for the app to stop listening
// on USER_PORT (the app's SIGTERM comes only after the drain, through its
// preStop hook, and it flushes then) and forwards what it holds, each
// stage bounded by the kntrace.dev/relay-drain-timeout annotation, else
// KNTRACE_RELAY_DRAIN_TIMEOUT.
//
// Tracing never costs a request: a relay that cannot listen leaves the
// exporter as Knative configured it, a collector that is down or a full
// relay costs spans (counted by the relay), and a malformed header or
// annotation is ignored (logged once).
package queueproxy
