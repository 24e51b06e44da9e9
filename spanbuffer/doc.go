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

// Package spanbuffer is a span processor that replaces the OpenTelemetry
// SDK's batch span processor for processes that start cold: it keeps ended
// spans while the exporter fails or before its first success (a collector
// not up yet, a mesh sidecar not ready), bounded in estimated bytes and in
// count, drops the oldest when full, and exports in order, in batches, with
// exponential backoff and jitter (package backoff) once the exporter
// answers. OnEnd never blocks.
//
// Its limits come from options, then the environment: KNTRACE_BUFFER_MAX_BYTES,
// KNTRACE_BUFFER_MAX_SPANS and the SDK's OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
// OTEL_BSP_SCHEDULE_DELAY and OTEL_BSP_EXPORT_TIMEOUT. Spans it drops are
// counted (Stats, and the kntrace.buffer.* metrics) and logged once; they
// never cost the process a request.
//
// The app SDK (package appsdk) installs it in every app it starts.
package spanbuffer
