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

# The one test command: installs and builds everything the tests need, then
# runs unit, integration and end-to-end tests (fuzz seed corpora included).
#
# Every preparation step is idempotent and says what it does: a second run
# finds the packages installed, the tools fresh (hack/tools.sh relinks) and
# the cluster's images cached (test/cluster), and takes seconds. The network
# is used only before the tests: go vet and go test run with GOPROXY=off, so
# a test that would download fails instead. The local cluster's tests
# (test/cluster) need root.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
start=$SECONDS

# step NAME CMD... runs CMD and logs how long it took.
step() {
	local name=$1 t=$SECONDS
	shift
	log "${name}…"
	"$@" || die "${name} failed (exit $?)"
	log "${name}: done in $((SECONDS - t))s"
}

step "Debian packages (hack/apt.sh)" hack/apt.sh --with-chromium
step "tools (hack/tools.sh; a cold build takes 25-60 min on 2 cores)" hack/tools.sh
step "Go modules of kntrace's packages and tests" go mod download
step "Go modules whose YAML the tests apply" go run ./test/cmd/fetchmodules
# Knative's release images and the local cluster's other images, built into
# the cache (test/cluster; a cold build takes about 20 min).
step "the local cluster's images (kntrace-cluster prepare)" go run ./test/cmd/kntrace-cluster prepare

# Nothing below downloads.
export GOPROXY=off
step "go vet" go vet ./...
log "go test ./... (real etcd, kube-apiserver, Collector, Jaeger and Knative binaries from ${KNTRACE_BIN})"
go test -count=1 -timeout 60m "$@" ./...
log "tests passed in $((SECONDS - start))s"
