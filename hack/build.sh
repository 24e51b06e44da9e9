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

# Builds kntrace's own binaries into bin/.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
mkdir -p bin
version="$(git describe --tags --always --dirty 2>/dev/null || echo devel)"
log "building kntrace ${version} into bin/"
for cmd in cmd/*/; do
  name="$(basename "$cmd")"
  log "  ${name}"
  go build -trimpath -ldflags "-X github.com/kntrace/kntrace/internal/cli.Version=${version} -X main.version=${version}" -o "bin/${name}" "./${cmd}"
done
