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

// Package jaeger reads traces back out of Jaeger through its query API
// (jaeger-idl api_v2 over gRPC).
//
// Dial opens a client; Services, FindTraces and GetTrace return Jaeger's own
// model types (github.com/jaegertracing/jaeger-idl/model/v1). Every call is
// bounded by the caller's context and by the client's call timeout, and an
// unreachable or wrong endpoint is reported as an error naming the address
// (client.go).
//
// Build arranges a Jaeger trace for reading (model.go): spans in tree
// order with depth, the critical path, errors, the spans that waited for a
// cold start and the cold-start phases under them (by the names package
// coldstart owns), and a one-line cold-start summary. WriteWaterfall draws it in
// a terminal (waterfall.go) and WriteHTML as a self-contained page (html.go);
// kn trace get prints both.
//
// ColdStartEpisodes reads the cold starts kntrace's activator recorded out of
// many traces (coldstarts.go): each leader with its phases, the coarse ones or
// those taken from Kubernetes' records, and the requests that joined it;
// NewColdStartReport adds nearest-rank p50/p95 per phase, ColdStartQuery is
// the Jaeger search that finds them, and WriteColdStarts prints the report
// (coldstarts_text.go) for kn trace coldstarts. Package jaegertest builds the
// model traces the tests use.
package jaeger
