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

# Regenerates docs/cli.md from the kn trace commands (internal/cli), then
# checks that every `kn trace …` example in docs/ and README.md parses and
# that every relative link and named test exists.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
log "generating docs/cli.md from internal/cli"
go test ./internal/cli -count=1 -run '^TestCLIReferenceUpToDate$' -args -update-docs >/dev/null
go test ./internal/cli -count=1 -run '^(TestCLIReferenceUpToDate|TestCLIReferenceCoversEveryCommand|TestDocExamplesRun|TestDocLinks)$'
if [[ -n "$(git status --porcelain -- docs/cli.md 2>/dev/null)" ]]; then
  log "docs/cli.md changed: commit it"
else
  log "docs/cli.md is up to date"
fi
