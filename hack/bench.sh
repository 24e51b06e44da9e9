#!/usr/bin/env bash
# Copyright 2026 The kntrace Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# make bench: every kntrace-vs-upstream comparison in one run, printed as one
# table (and written to _output/bench.json). test/cmd/benchtable compiles each
# suite's benchmarks and runs the suites BENCH_ROUNDS times in turns (each
# with -count 1), so kntrace and its anchor alternate and machine noise hits
# both; figures are medians over the rounds (a suite marked "once" runs in
# the first round only and reports medians of its own samples: the local
# cluster's, which takes minutes to boot). Every suite listed here must
# report results in every round, and every target must get a row: a suite
# that fails, skips or reports nothing, or a target without a result, fails
# `make bench` (after the table is printed). Targets outside their bounds
# print MISSED.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
rounds="${BENCH_ROUNDS:-7}"
out="$REPO_ROOT/_output/bench"
mkdir -p "$out"

# package  benchmark pattern  benchtime
suites=(
  "propagation ^Benchmark(Extract|Inject)$ 200ms"
  "spanbuffer ^Benchmark(SpanProcessor|OnEnd)$ 200ms"
  "otlprelay ^BenchmarkRelay$ 200ms"
  "appsdk ^BenchmarkStart$ 200ms"
  "activatorhooks ^BenchmarkActivatorHandler$ 200ms"
  "queueproxy ^BenchmarkHandlerChain$ 200ms"
  "webhook ^BenchmarkAdmission$ 1000x"
  "cmd/queue ^BenchmarkQueueProxy(Startup)?$ 1x"
  "test/scaleout ^Benchmark(Pipeline|TailSampling)$ 1x"
  # Boots the local cluster (minutes): once, with samples of its own.
  "test/cluster ^BenchmarkClusterIngress$ 1x once"
)

hack/apt.sh
hack/tools.sh
go run ./test/cmd/kntrace-cluster prepare
args=()
for s in "${suites[@]}"; do
  args+=(-suite "$s")
done
start=$SECONDS
go run ./test/cmd/benchtable -rounds "$rounds" -out "$out" -json "$REPO_ROOT/_output/bench.json" "${args[@]}"
log "benchmarks took $((SECONDS - start))s; table also in _output/bench.json, raw output in _output/bench/raw.txt"
