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

// Package benchtable turns `go test -bench` output into the table `make
// bench` prints: every kntrace figure beside the figure of what a user would
// otherwise run (OpenTelemetry's composite propagator, the SDK's batch span
// processor, upstream Knative's activator and queue-proxy, the API server
// without kntrace's webhook), measured in the same run.
//
// A pair is two sub-benchmarks that differ only in their last name element:
// "kntrace" (or "kntrace-…") against one of the anchors "otel", "batch",
// "upstream", "sdk", "no-webhook", "single-collector" (the default install's
// one collector, beside the scale-out pipeline) or "no-tail" (a gateway
// without tail sampling). Each figure is the median over the
// rounds, shown with its spread. A round measures both sides of a pair, so
// the ratio is the median of the rounds' own ratios, with their spread (and
// a target in absolute terms, such as start-up + 5 ms, is checked against
// the median of the rounds' differences): what a round shares, a machine
// busier in one round than in the next, cancels. Only when one side has
// figures from fewer rounds is the ratio that of the two medians.
//
// Run runs the suites `make bench` lists (hack/bench.sh: package, pattern,
// benchtime) for a number of rounds, the suites taking turns, and refuses to
// lose a row: a suite that does not compile, fails, skips or panics in a
// benchmark, or reports no result at all is an error naming it. Every
// target ends its row with "pass" or "MISSED"; AddMissing gives a target
// that no row answers a MISSED row of its own ("no result").
package benchtable
