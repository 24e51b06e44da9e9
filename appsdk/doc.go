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

// Package appsdk sets up OpenTelemetry tracing for a Go app running on
// Knative with one call:
//
//	sdk, err := appsdk.Start(ctx)
//	if err != nil {
//		log.Print(err) // a bad OTEL_* variable: the SDK still works with its default
//	}
//	defer sdk.Shutdown(context.Background())
//	http.ListenAndServe(":8080", sdk.Handler(mux, "hello"))
//
// Start reads the standard OTEL_* environment (OTEL_SDK_DISABLED,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG),
// OTEL_PROPAGATORS, OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _PROTOCOL, _HEADERS,
// _COMPRESSION), builds the resource from Knative's environment (faas.name,
// faas.version, faas.instance, k8s.pod.name, k8s.namespace.name), installs
// kntrace's propagator with the formats OTEL_PROPAGATORS names (W3C
// tracecontext and baggage when it is unset, as the specification says; the
// kntrace webhook injects the revision's choice), and exports through
// spanbuffer.Buffer, so spans made before the collector (or the
// queue-proxy's relay on localhost:4318, the default endpoint) answers are
// kept and sent later. It never waits for the collector. Its sampler is
// wrapped in propagation.Sampler, so a request that carried only a sampling
// decision (b3: d, a lone jaeger-debug-id) decides its new root span.
//
// The files follow that order: options.go, appsdk.go (Start and the SDK),
// resource.go, sampler.go, exporter.go and signal.go (WithSignalDrain).
//
// Handler wraps an http.Handler with a server span per request and the
// cold-start middleware (faas.coldstart on the first request). Shutdown
// flushes within its context's deadline; WithSignalDrain does that on SIGTERM.
package appsdk
