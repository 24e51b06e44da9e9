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
# table (and written to _output/bench.json). Each package's benchmarks run
# BENCH_ROUNDS times with -count 1, so kntrace and its anchor alternate and
# machine noise hits both; figures are medians over the rounds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
rounds="${BENCH_ROUNDS:-5}"
out="$REPO_ROOT/_output/bench"
mkdir -p "$out"
: >"$out/raw.txt"

# package  benchmark pattern  benchtime
suites=(
  "propagation ^Benchmark(Extract|Inject)$ 200ms"
  "spanbuffer ^Benchmark(SpanProcessor|OnEnd)$ 200ms"
  "otlprelay ^BenchmarkRelay$ 200ms"
  "appsdk ^BenchmarkStart$ 200ms"
  "activatorhooks ^BenchmarkActivatorHandler$ 200ms"
  "queueproxy ^BenchmarkHandlerChain$ 200ms"
  "webhook ^BenchmarkAdmission$ 1000x"
  "test/scaleout ^Benchmark(Pipeline|TailSampling)$ 1x"
)
for extra in cmd/queue; do
  [[ -d "$extra" ]] && go test -list '^Benchmark' "./$extra" 2>/dev/null | grep -q '^Benchmark' && suites+=("$extra ^Benchmark 1x")
done

hack/tools.sh etcd kube-apiserver otelcol jaeger queue-upstream activator-upstream
for s in "${suites[@]}"; do
  read -r pkg _ _ <<<"$s"
  log "compiling ${pkg} benchmarks"
  go test -c -o "$out/$(echo "$pkg" | tr / _).test" "./$pkg"
done
start=$SECONDS
for ((r = 1; r <= rounds; r++)); do
  for s in "${suites[@]}"; do
    read -r pkg pattern benchtime <<<"$s"
    log "round ${r}/${rounds}: ${pkg}"
    (cd "$pkg" && "$out/$(echo "$pkg" | tr / _).test" -test.run '^$' -test.bench "$pattern" -test.benchmem \
      -test.benchtime "$benchtime" -test.count 1) | tee -a "$out/raw.txt" | grep -E '^(Benchmark|FAIL|panic)' >&2 || true
  done
done
log "benchmarks took $((SECONDS - start))s"
go run ./test/cmd/benchtable -json "$REPO_ROOT/_output/bench.json" "$out/raw.txt"
log "table also written to _output/bench.json; raw output in _output/bench/raw.txt"
