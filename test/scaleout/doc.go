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

// Package scaleout proves the scale-out install (scale-out/ at the
// repository root) with real processes: the OpenTelemetry Collector that
// hack/tools.sh builds, run as agents and gateways from the shipped
// configurations (test/backends moves their listeners to loopback and their
// queues to the test's directory, and swaps the agents' Kubernetes resolver
// for the static resolver over the same trace-ID hash ring, since no cluster
// runs here), and Jaeger v2 on Badger from the shipped patch.
//
// The tests: tail sampling keeps every cold start complete and a binomial
// share of the rest (TestTailSamplingKeepsColdStarts); every span of a trace
// reaches one gateway (TestOneGatewayPerTrace); a gateway and an agent
// restarted during a run lose nothing the persistent queues hold
// (TestRestartDuringARun); Jaeger on Badger keeps every trace across a
// restart (TestJaegerBadgerRestart); a burst of ten times the steady rate
// stays within memory_limiter's bound and the excess is refused and counted
// (TestBurstStaysWithinMemoryLimit). The shipped manifests themselves are
// checked by kustomize, `otelcol validate` and `jaeger validate`
// (TestManifests). BenchmarkPipeline and BenchmarkTailSampling measure the
// pipeline beside the single-collector default.
package scaleout
