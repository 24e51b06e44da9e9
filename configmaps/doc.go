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

// Package configmaps reads, validates, patches, migrates and rolls back
// Knative's tracing configuration in both of its shapes:
//
//   - config-observability (Knative 1.19 and later): tracing-protocol,
//     tracing-endpoint, tracing-sampling-rate, parsed here with
//     knative.dev/pkg's own parser so kntrace accepts exactly what Knative
//     accepts;
//   - config-tracing (before 1.19): backend, zipkin-endpoint, sample-rate,
//     debug and the older enable, parsed with the rules Knative used then
//     (sample-rate defaults to 0.1).
//
// On top of Knative's validation it refuses what would crash a component or
// silently export nothing: an endpoint url.Parse rejects (10.0.0.1:4317 passes
// Knative's webhook, then every component crash-loops at start-up), a
// scheme-less host:port (silently becomes https://), a protocol with a zero
// or missing sampling rate, grpc with an HTTP path and http/protobuf without
// one. Every message names the key and the fix.
//
// Writes are minimal because each one is expensive: serving serialises
// config-observability into every queue-proxy's environment, so a write rolls
// the pods of every revision. A patch touches only the tracing keys (every
// other key, _example and its checksum annotation stay byte-identical), uses
// optimistic concurrency with retry on conflict, never writes when nothing
// changes, and records the previous tracing values in an annotation so that
// a rollback restores them exactly.
package configmaps
