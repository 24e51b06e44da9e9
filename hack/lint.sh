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

# gofmt, go vet and the license header on every Go file.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
bad="$(gofmt -l $(git ls-files '*.go'))"
[[ -z "$bad" ]] || die "gofmt would change: $bad"
missing="$(for f in $(git ls-files '*.go'); do head -3 "$f" | grep -q 'Copyright .* The kntrace Authors' || echo "$f"; done)"
[[ -z "$missing" ]] || die "license header missing (see hack/boilerplate.go.txt): $missing"
go vet ./...
log "lint clean"
