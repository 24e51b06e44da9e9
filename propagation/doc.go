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

// Package propagation is kntrace's multi-format trace-context propagator:
// one propagation.TextMapPropagator that reads W3C Trace Context (and W3C
// Baggage), B3 single and multiple headers, Jaeger's uber-trace-id (and
// uberctx-* baggage) and the CloudEvents binary-mode ce-traceparent and
// ce-tracestate headers, and writes a configured set of formats. kntrace's
// activator, queue-proxy and app SDK use it so that a request that arrives
// with B3 or Jaeger headers keeps its trace across Knative, which reads and
// writes only W3C Trace Context.
//
// # Precedence: the first valid context wins, W3C first
//
// Extract tries the formats in a fixed precedence (DefaultExtractOrder, or
// WithExtractOrder) and stops at the first one that yields a valid span
// context; later formats are not parsed at all. A malformed header is
// skipped as a whole, never half used.
//
// W3C Trace Context comes first by default because upstream Knative hops
// (activator, queue-proxy, broker, channel) update traceparent with their
// own span but forward X-B3-* and uber-trace-id untouched. Behind one such
// hop the B3 headers still name the span of the client that sent them and
// are stale, while traceparent names the hop. OpenTelemetry's
// propagation.NewCompositeTextMapPropagator runs every propagator in turn
// and the last one that finds a valid context overwrites the others, so a
// composite of TraceContext and B3 parents the span to the stale client
// span and the upstream hop drops out of the trace. TestStaleB3BehindKnativeHop
// shows the composite doing that and this propagator keeping the hop.
//
// Sampling state maps between formats: B3 "d" and X-B3-Flags: 1 and the
// Jaeger debug flag mean debug (and sampled) and are written back as debug
// in B3 and Jaeger whatever format they came in (IsDebug); a B3 context
// without a sampling state is deferred and B3 injection leaves the state out
// again (IsDeferred), as go.opentelemetry.io/contrib/propagators/b3 does;
// W3C carries the sampled flag only. 64-bit B3 and Jaeger trace IDs are
// left-padded with zeros to 128 bits.
//
// Each format parses and writes exactly what the OpenTelemetry propagator
// for it does (propagation.TraceContext and Baggage, contrib b3 and jaeger);
// the differential tests and fuzz targets hold that. The deliberate
// differences: nothing is injected for an invalid span context (contrib B3
// writes "b3: 0"); a B3 header with a sampling state but no IDs carries no
// context and sets nothing (contrib keeps its debug bit, even from a
// malformed X-B3-* set); a baggage header over 8192 bytes keeps its leading
// members instead of being dropped whole; errors are never reported to the
// global OpenTelemetry error handler on the request path.
//
// # Configuration
//
// FromEnv reads OTEL_PROPAGATORS as the OpenTelemetry specification defines
// it (tracecontext, baggage, b3, b3multi, jaeger, none; see ParseList).
// New with no options is the bridge: it extracts every format and injects
// W3C tracecontext and baggage. WithFormats and WithExtractOrder set the
// formats written and read.
//
// # CloudEvents
//
// EventCarrier, InjectEvent and ExtractEvent read and write the CloudEvents
// distributed-tracing extension of an sdk-go event. The extension names the
// trace that produced the event; the HTTP headers name the last hop.
// Propagator.InjectProducer (and ProducerContext for the sdk-go client)
// sets both on the producer side; Propagator.StartConsumerSpan continues the
// header trace on the consumer side and links the extension's context.
//
// # Fuzzing
//
// Every header parser has a fuzz target whose seeds run with go test. A
// longer run, one target at a time:
//
//	go test ./propagation -run '^$' -fuzz '^FuzzB3Single$' -fuzztime 5m
//
// with FuzzW3C, FuzzB3Single, FuzzB3Multi, FuzzJaeger, FuzzBaggage,
// FuzzUberctx and FuzzOTELPropagators.
package propagation
