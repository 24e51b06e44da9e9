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

// Package scaling keeps traces whole across Knative's scale from zero and to
// zero.
//
//   - Buffer is a span processor that replaces the SDK's batch span processor:
//     it holds spans, bounded in bytes and in count, while the exporter fails
//     or before its first success, drops the oldest when full, and flushes in
//     order with exponential backoff and jitter once the exporter recovers.
//   - Relay is an OTLP/HTTP receiver (default 127.0.0.1:4318) that answers as
//     soon as a payload is queued, forwards to the real collector over
//     OTLP/HTTP or OTLP/gRPC, answers 429 with Retry-After when its
//     byte-bounded queue is full, and drains at shutdown.
//   - Timeline records process start, app readiness and the first request;
//     its middleware marks exactly one request per process as the cold start
//     (faas.coldstart=true) and records the cold-start phases in that
//     request's trace.
//
// Tracing never breaks the request path: a broken collector or a full buffer
// costs spans, which are counted (and exported as OpenTelemetry metrics) and
// logged once.
package scaling
