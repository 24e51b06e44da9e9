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

// Package activatorhooks is the tracing kntrace adds to Knative's activator:
// middleware around the handler chain of knative.dev/serving/pkg/activator,
// which kntrace's cmd/activator composes exactly as upstream does otherwise.
//
// Hooks has four pieces, each wrapping one thing upstream already has:
//
//   - ServerHandler replaces the otelhttp server handler ("handle") that
//     starts the activator's request span. It extracts the caller's context
//     with the propagation bridge (W3C first, then B3 single, B3 multi,
//     Jaeger, CloudEvents), so a B3- or Jaeger-only request continues its
//     trace instead of starting a new one, and it puts the per-request state
//     the other pieces share into the request's context (Handler alone does
//     the latter for a chain that starts its span elsewhere).
//   - Throttler wraps the activator's throttler. The throttler_try span that
//     upstream opens around the wait for capacity gets the revision
//     (faas.name, faas.version, k8s.namespace.name), the number of ready
//     backends when the request arrived and whether that was zero
//     (AttrReadyBackends, AttrZeroBackends), and the wait's duration
//     (AttrWaitMs).
//   - Transport wraps the transport to the queue-proxy. When the pod answers
//     with a cold-start timeline (coldstart.Header, sent by kntrace's
//     queue-proxy on its first request), the request span gets
//     faas.coldstart=true and four phase spans are recorded under it, in the
//     request's own trace: kntrace.coldstart.pod_start (request arrival to
//     the pod's process start), .app_init (process start to app ready),
//     .readiness (app ready to the activator sending the request) and .proxy
//     (sending to the first response byte), each with kntrace.coldstart.phase.
//     The header is removed from the response before it leaves the activator.
//   - Propagator is the bridge itself, to install as the global propagator so
//     the otelhttp transport upstream wraps around Transport writes the
//     configured formats (OTEL_PROPAGATORS) to the queue-proxy.
//
// Tracing never breaks a request: a malformed timeline costs the phase spans
// (counted by MalformedTimelines and reported once to the error handler),
// never the response; requests that are not sampled take no extra
// allocations.
//
// SamplerEnv makes the activator's sampling parent-based: Knative's sampler
// (knative.dev/pkg observability/tracing) is AlwaysSample or NeverSample at
// rates 1 and 0 whatever the caller decided, but it leaves the sampler to
// the OpenTelemetry SDK when OTEL_TRACES_SAMPLER is set.
package activatorhooks
