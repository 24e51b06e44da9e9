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
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
start=$SECONDS

hack/apt.sh --with-chromium
hack/tools.sh
log "fetching the Go modules whose YAML the tests apply (no test downloads)"
go run ./test/cmd/fetchmodules
log "go vet"
go vet ./...
log "go test ./... (real etcd, kube-apiserver, Collector, Jaeger and Knative binaries from ${KNTRACE_BIN})"
go test -count=1 -timeout 60m "$@" ./...
log "tests passed in $((SECONDS - start))s"
