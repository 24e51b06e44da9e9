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
// W3C carries the sampled and random flags only. 64-bit B3 and Jaeger trace
// IDs are left-padded with zeros to 128 bits.
//
// # W3C Trace Context: Level 2
//
// kntrace reads and writes W3C Trace Context Level 2 (which Level 1
// senders are a subset of) and passes every test of the W3C validation
// suite at both levels. traceparent parses as propagation.TraceContext
// parses it, except that a traceparent sent twice is refused (its field
// lines combine into a list, which is not a traceparent) and a new trace
// starts. tracestate follows the specification's words where
// trace.TraceState is stricter: every tracestate line is one list (RFC 9110
// combining); spaces, tabs, empty and blank members are allowed; keys follow
// the Level 2 grammar ("@" anywhere, a digit first, up to 256 characters); a
// repeated key keeps its left-most member; a member that is not key=value
// by the grammar, or more than 32 members, discards the whole header (the
// specification allows either; the suite expects this). Members
// trace.TraceState cannot hold travel beside the span context and are
// written back in place for spans of the same trace, after the members the
// service added or changed (see TestTracestateBeyondTraceState).
//
// # B3 and Jaeger as their clients write them
//
// B3 follows Zipkin's b3-propagation specification and Envoy's extractor:
// every separator of the single header is "-" (contrib checks only the
// first). A sampling state sent without IDs (b3: 0|1|d, X-B3-Sampled or
// X-B3-Flags without X-B3-TraceId and X-B3-SpanId, SamplingOnly) is read
// when no format yields a span context: a deny starts a new random trace
// that is not sampled, so any parent-based sampler drops the request and
// every format written downstream carries the deny; an accept or a debug
// starts no trace by itself (a made-up parent would show in Jaeger as a
// missing span) and is honoured by Sampler, which samples the new root
// span; without Sampler the local sampler decides. X-B3-ParentSpanId is
// read as the Jaeger clients' B3 codecs read it: 1 to 16 hex digits of
// either case, zero included (it is validated, never used).
//
// uber-trace-id is read as the Jaeger clients read it: a value holding "%"
// is URL-decoded first; IDs are hex of either case; the deprecated parent
// field must be 1 to 16 hex digits; flags must be present and are one byte
// in hex. The sources contradict each other on flags: jaeger-client-go reads
// them as decimal (strconv.ParseUint(s, 10, 8)) while the Jaeger
// documentation says hex and every client, Go included, writes them in hex
// (Go with %x, Java with Integer.toHexString, Python with {:x}) and the
// Java, Python and Node readers read hex. kntrace reads hex: the two
// readings agree on 0 to 9, which is all a client writes unless it sets the
// firehose bit, and on larger values only hex reads back what the writers
// meant ("11" is 0x11, sampled; "f" is sampled and debug; "255" is over one
// byte and refused). Negative and signed flags are refused. A lone
// jaeger-debug-id (no span context from any format) is recorded (DebugID)
// as a debug decision: Sampler samples the new root span and tags it
// jaeger-debug-id with the value, as the Jaeger clients do. Baggage comes
// from uberctx-* headers and the jaeger-baggage header (k1=v1, k2=v2) when
// the Jaeger header wins or no format yields a span context; W3C baggage
// wins over uberctx-*, which wins over jaeger-baggage; keys are lower-cased,
// as header names lose their case. uberctx-* values are written
// percent-encoded with a space as %20, never "+", so that Go's and Java's
// decoders (which read "+" as a space) and Node's and Python's (which keep
// it) all read back the same text; a key that cannot be part of a header
// name is not written as uberctx-*, since an HTTP client would refuse the
// request.
//
// # Differences from the OpenTelemetry propagators
//
// Each format otherwise parses and writes exactly what the OpenTelemetry
// propagator for it does (propagation.TraceContext and Baggage, contrib b3
// and jaeger); the differential tests and fuzz targets hold that, with the
// deliberate differences listed in their tables: the W3C, B3 and Jaeger
// rules above; nothing is injected for an invalid span context (contrib B3
// writes "b3: 0"); a B3 or Jaeger debug state is written only for a sampled
// span context; a baggage header over 8192 bytes keeps its leading members
// instead of being dropped whole; errors are never reported to the global
// OpenTelemetry error handler on the request path.
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
// with FuzzW3C, FuzzTracestate, FuzzB3Single, FuzzB3Multi, FuzzJaeger,
// FuzzBaggage, FuzzUberctx, FuzzJaegerBaggage and FuzzOTELPropagators.
package propagation
