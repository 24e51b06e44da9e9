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

// Package otlprelay is the OTLP/HTTP relay kntrace's queue-proxy runs inside
// every pod (default 127.0.0.1:4318, where OpenTelemetry SDKs in every
// language export by default). It answers an export as soon as the payload
// is queued, so an app never waits on a collector that is not reachable
// yet; holds payloads in a byte-bounded queue; forwards them in order to
// the collector Knative's config-observability names, over OTLP/HTTP or
// OTLP/gRPC, retrying with backoff while it is down; answers 429 with
// Retry-After when the queue is full and 503 while shutting down; and drains
// at SIGTERM, so spans an app flushes at scale to zero still leave.
//
// It accepts protobuf and JSON bodies, gzip-compressed or not (decode.go);
// JSON is converted to protobuf once, so the queue holds protobuf only.
// Queued payloads are concatenated into one export up to a size bound
// (protobuf concatenation merges their resource spans). Limits come from
// options, then KNTRACE_RELAY_ADDRESS, KNTRACE_RELAY_MAX_BYTES and
// KNTRACE_RELAY_MAX_REQUEST_BYTES. Spans it cannot forward are counted
// (Stats, and the kntrace.relay.* metrics) and logged once.
package otlprelay
