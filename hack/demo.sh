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

# make demo: builds what the demo's cluster needs, then runs the demo on it
# (test/demo). Every step is idempotent and says what it does: a second run
# finds the packages installed, the tools fresh and the cluster's images
# cached, and starts the demo within a minute. The cluster needs root.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

[[ $(id -u) -eq 0 ]] || die "the demo's Kubernetes cluster needs root (network, mounts, cgroups, containerd): run make demo as root"

# step NAME CMD... runs CMD and logs how long it took.
step() {
	local name=$1 t=$SECONDS
	shift
	log "${name}…"
	"$@" || die "${name} failed (exit $?)"
	log "${name}: done in $((SECONDS - t))s"
}

step "Debian packages (hack/apt.sh)" hack/apt.sh
step "tools (hack/tools.sh; a cold build takes 25-60 min on 2 cores)" hack/tools.sh
step "Go modules of kntrace's packages" go mod download
# Knative's release images, the Collector's and Jaeger's and the cluster's
# own, built into the cache (test/cluster; a cold build takes about 20 min).
step "the local cluster's images (kntrace-cluster prepare)" go run ./test/cmd/kntrace-cluster prepare

# Nothing below downloads.
export GOPROXY=off
log "starting the demo (Ctrl-C stops it and removes the cluster)"
go run ./test/cmd/kntrace-demo "$@"
