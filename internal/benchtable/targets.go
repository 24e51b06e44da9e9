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

package benchtable

import "regexp"

// Targets are the performance promises the issues make, as ratios against
// the anchor measured in the same run. Each must be answered by a row of
// `make bench` (AddMissing): a target without a result fails the run.
var Targets = []Target{
	{Workload: regexp.MustCompile(`^Benchmark(Extract|Inject)/w3c-only$`), Metric: "ns/op", MaxRatio: 1.1, Source: "propagation: W3C-only ≤ 1.1× plain TraceContext"},
	{Workload: regexp.MustCompile(`^Benchmark(Extract|Inject)/(w3c\+b3multi|all|all\+jaeger)$`), Metric: "ns/op", MaxRatio: 0.9, Source: "propagation: multi-format ≤ 0.9× the composite"},
	{Workload: regexp.MustCompile(`^Benchmark(Extract|Inject)/`), Metric: "ns/op", MaxRatio: 1.0, Source: "propagation: single format ≤ 1.0× the composite"},
	{Workload: regexp.MustCompile(`^Benchmark(Extract|Inject)/`), Metric: "allocs/op", MaxRatio: 1.0, Source: "propagation: allocations never above the composite's"},
	{Workload: regexp.MustCompile(`^BenchmarkSpanProcessor$`), Metric: "ns/op", MaxRatio: 1.1, Source: "span buffer ≤ 1.1× the batch span processor"},
	{Workload: regexp.MustCompile(`^BenchmarkActivatorHandler$`), Metric: "ns/op", MaxRatio: 1.05, Source: "activator warm path within 5%"},
	{Workload: regexp.MustCompile(`^BenchmarkQueueProxy/sampling=1$`), Metric: "req/s", MinRatio: 0.95, Source: "queue-proxy throughput ≥ 0.95×, traced traffic"},
	{Workload: regexp.MustCompile(`^BenchmarkQueueProxy/sampling=0$`), Metric: "req/s", MinRatio: 0.95, Source: "queue-proxy throughput ≥ 0.95×, sampling 0"},
	{Workload: regexp.MustCompile(`^BenchmarkQueueProxy/sampling=1$`), Metric: "p99-ms", MaxRatio: 1.1, Source: "queue-proxy p99 ≤ 1.1×, traced traffic"},
	{Workload: regexp.MustCompile(`^BenchmarkQueueProxy/sampling=0$`), Metric: "p99-ms", MaxRatio: 1.1, Source: "queue-proxy p99 ≤ 1.1×, sampling 0"},
	{Workload: regexp.MustCompile(`^BenchmarkQueueProxyStartup$`), Metric: "ready-ms", MaxDelta: 5, Source: "queue-proxy start-up ≤ upstream + 5 ms"},
	{Workload: regexp.MustCompile(`^BenchmarkClusterIngress/cold$`), Metric: "ttfb-ms", MaxDelta: 5, Source: "cluster: from zero through the ingress ≤ upstream + 5 ms"},
	{Workload: regexp.MustCompile(`^BenchmarkClusterIngress/warm$`), Metric: "p99-ms", MaxRatio: 1.1, Source: "cluster: warm p99 through the ingress ≤ 1.1×"},
}
