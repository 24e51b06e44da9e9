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

# hack/tools.sh builds the real components kntrace's tests run (etcd and
# Kubernetes' own binaries, the registry (crane), ko, CoreDNS, Traefik, the
# OpenTelemetry Collector, Jaeger, kn and Knative's queue-proxy, which the
# queue-proxy benchmark compares kntrace's with) into a cache outside the checkout and links them into one bin
# directory:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/kntrace/<tool>-<version>/<binary>
#   ${KNTRACE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/kntrace/bin}/<name> -> the above
#
# Every tool is pinned by a wrapper module under tools/ (go.mod + go.sum);
# Knative's queue-proxy is pinned by the project's own go.mod. A
# binary is rebuilt only when the hash of what pins it changes, so a second
# run only relinks.
#
# Everything is built as ko builds images: CGO_ENABLED=0 and -trimpath. The
# Go build cache keys compiled packages by these settings, so a package that
# ko and a host build both need is compiled once, and the binaries are static
# (the local cluster makes images of the Collector and Jaeger, which have no
# libc).
#
# Usage:
#   hack/tools.sh [--force] [NAME...]   build NAMEs (default: all), see --list
#   hack/tools.sh --list                print the tool names
#   hack/tools.sh --regen-otelcol       regenerate tools/otelcol/go.mod and
#                                       go.sum from builder-config.yaml

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kntrace
BIN=${KNTRACE_BIN:-$CACHE/bin}
GO=${GO:-go}
export GOWORK=off
# As ko builds (see above); part of every stamp.
export CGO_ENABLED=0
BUILD_MODE="CGO_ENABLED=$CGO_ENABLED -trimpath"

OTELCOL_BUILDER_VERSION=v0.162.0

ALL_TOOLS=(etcd kube-apiserver kubectl kube-controller-manager kube-scheduler
	kubelet kube-proxy crane ko coredns traefik otelcol jaeger kn
	queue-upstream)


# Knative's binaries built from the project's own module.
declare -A KNATIVE_PKG=(
	[queue-upstream]=knative.dev/serving/cmd/queue
)

# Rough cold-cache build times on 2 cores, for the progress line.
declare -A ESTIMATE=(
	[etcd]="≈1.5 min"
	[kube-apiserver]="≈6 min"
	[kubectl]="≈1 min after kube-apiserver"
	[kube-controller-manager]="≈2 min after kube-apiserver"
	[kube-scheduler]="≈0.5 min after kube-apiserver"
	[kubelet]="≈3.5 min after kube-apiserver"
	[kube-proxy]="≈1 min after kubelet"
	[crane]="≈0.5 min"
	[ko]="≈3 min"
	[coredns]="≈2 min"
	[traefik]="≈15 min, the heaviest"
	[otelcol]="≈3 min"
	[jaeger]="≈5 min"
	[kn]="≈2 min"
	[queue-upstream]="≈1 min"
)

FORCE=0
CURRENT=""

log() { printf '[tools] %s\n' "$*" >&2; }

die() {
	log "ERROR${CURRENT:+ ($CURRENT)}: $*"
	exit 1
}

on_exit() {
	local rc=$?
	if [[ $rc -ne 0 && -n "$CURRENT" ]]; then
		log "FAILED: $CURRENT (exit $rc)"
	fi
}
trap on_exit EXIT

hash_files() {
	cat "$@" | sha256sum | cut -c1-16
}

# mod_version DIR MODULE prints the version of MODULE required by the module
# in DIR.
mod_version() {
	(cd "$1" && "$GO" list -mod=readonly -m -f '{{.Version}}' "$2") ||
		die "cannot read the version of $2 from $1/go.mod"
}

# fresh DIR BINARY STAMP tells whether DIR/BINARY exists and was built from
# STAMP.
fresh() {
	[[ $FORCE -eq 0 && -x "$1/$2" && -f "$1/.$2.stamp" && "$(cat "$1/.$2.stamp")" == "$3" ]]
}

# link NAME TARGET points BIN/NAME at TARGET.
link() {
	mkdir -p "$BIN"
	ln -sfn "$2" "$BIN/$1"
}

# go_build DIR OUT LDFLAGS PKG builds PKG from the module in DIR into OUT,
# readonly and reproducibly, replacing OUT only on success.
go_build() {
	local dir=$1 out=$2 ldflags=$3 pkg=$4
	mkdir -p "$(dirname "$out")"
	(cd "$dir" && "$GO" build -mod=readonly -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") ||
		{ rm -f "$out.tmp"; die "go build $pkg failed (in $dir)"; }
	mv -f "$out.tmp" "$out"
}

# go_stamp DIR LDFLAGS prints the stamp of a build from the wrapper module in
# DIR: its go.mod, go.sum, Go sources, link flags and build mode.
go_stamp() {
	{
		cat "$1/go.mod" "$1/go.sum"
		find "$1" -maxdepth 1 -name '*.go' -print0 | sort -z | xargs -0 -r cat
		printf '%s\n%s\n' "$2" "$BUILD_MODE"
	} | sha256sum | cut -c1-16
}

# build_step NAME VERSION DIR BINARY STAMP CMD... runs CMD unless
# DIR/BINARY is fresh, then records STAMP and links BINARY as NAME.
build_step() {
	local name=$1 version=$2 dir=$3 binary=$4 stamp=$5
	shift 5
	CURRENT="$name $version"
	if fresh "$dir" "$binary" "$stamp"; then
		log "$name $version is up to date ($dir/$binary)"
	else
		log "building $name $version (${ESTIMATE[$name]:-a few min} on 2 cores)…"
		local start=$SECONDS
		mkdir -p "$dir"
		rm -f "$dir/.$binary.stamp"
		"$@"
		[[ -x "$dir/$binary" ]] || die "build produced no $dir/$binary"
		printf '%s\n' "$stamp" >"$dir/.$binary.stamp"
		log "built $name $version in $((SECONDS - start))s ($(du -h "$dir/$binary" | cut -f1))"
	fi
	link "$name" "$dir/$binary"
	CURRENT=""
}

build_etcd() {
	local w=$ROOT/tools/etcd v
	v=$(mod_version "$w" go.etcd.io/etcd/server/v3)
	local dir=$CACHE/etcd-$v
	build_step etcd "$v" "$dir" etcd "$(go_stamp "$w" "")" \
		go_build "$w" "$dir/etcd" "" go.etcd.io/etcd/server/v3
}

# build_kubernetes NAME builds k8s.io/kubernetes/cmd/NAME from
# tools/kubernetes.
build_kubernetes() {
	local name=$1 w=$ROOT/tools/kubernetes v minor
	v=$(mod_version "$w" k8s.io/kubernetes)
	minor=${v#v1.}
	minor=${minor%%.*}
	local dir=$CACHE/$name-$v
	# Without the version stamped at link time the binary reports
	# v0.0.0-master and Knative's minimum-version check fails.
	local ld="-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	build_step "$name" "$v" "$dir" "$name" "$(go_stamp "$w" "$ld")" \
		go_build "$w" "$dir/$name" "$ld" "k8s.io/kubernetes/cmd/$name"
}

# build_wrapped NAME MODULE PKG LDFLAGS builds PKG from the wrapper module
# tools/NAME, versioned by MODULE's version there.
build_wrapped() {
	local name=$1 module=$2 pkg=$3 ld=$4 w=$ROOT/tools/$1 v
	v=$(mod_version "$w" "$module")
	local dir=$CACHE/$name-$v
	build_step "$name" "$v" "$dir" "$name" "$(go_stamp "$w" "$ld")" \
		go_build "$w" "$dir/$name" "$ld" "$pkg"
}

build_jaeger() {
	local w=$ROOT/tools/jaeger v
	v=$(mod_version "$w" github.com/jaegertracing/jaeger)
	local dir=$CACHE/jaeger-$v
	# `jaeger version` prints the module version instead of an empty one.
	local ld="-X github.com/jaegertracing/jaeger/internal/version.latestVersion=$v"
	build_step jaeger "$v" "$dir" jaeger "$(go_stamp "$w" "$ld")" \
		go_build "$w" "$dir/jaeger" "$ld" github.com/jaegertracing/jaeger/cmd/jaeger
}

build_kn() {
	local w=$ROOT/tools/kn v
	v=$(mod_version "$w" knative.dev/client)
	local dir=$CACHE/kn-$v
	# `kn version` prints the module version instead of an empty one.
	local ld="-X knative.dev/client/pkg/kn/commands/version.Version=$v"
	build_step kn "$v" "$dir" kn "$(go_stamp "$w" "$ld")" \
		go_build "$w" "$dir/kn" "$ld" knative.dev/client/cmd/kn
}

# otelcol_builder prints the path of the collector builder, installing it
# into the cache first if needed.
otelcol_builder() {
	local dir=$CACHE/otelcol-builder-$OTELCOL_BUILDER_VERSION
	if [[ ! -x "$dir/builder" ]]; then
		log "installing the collector builder $OTELCOL_BUILDER_VERSION (≈1.5 min)…"
		local start=$SECONDS
		mkdir -p "$dir"
		GOBIN=$dir GOFLAGS='' "$GO" install -trimpath -ldflags "-s -w" \
			"go.opentelemetry.io/collector/cmd/builder@$OTELCOL_BUILDER_VERSION" >&2 ||
			die "go install of the collector builder $OTELCOL_BUILDER_VERSION failed"
		log "installed the collector builder in $((SECONDS - start))s"
	fi
	printf '%s\n' "$dir/builder"
}

# otelcol_compile DIR generates the collector's sources into DIR/src from the
# committed manifest, puts the committed go.mod/go.sum beside them and builds
# DIR/otelcol.
otelcol_compile() {
	local dir=$1 w=$ROOT/tools/otelcol builder
	builder=$(otelcol_builder)
	rm -rf "$dir/src"
	mkdir -p "$dir/src"
	"$builder" --config "$w/builder-config.yaml" --output-path "$dir/src" \
		--skip-get-modules --skip-compilation >"$dir/generate.log" 2>&1 ||
		{ cat "$dir/generate.log" >&2; die "the collector builder could not generate sources"; }
	cp "$w/go.mod" "$w/go.sum" "$dir/src/"
	go_build "$dir/src" "$dir/otelcol" "" .
}

build_otelcol() {
	local w=$ROOT/tools/otelcol v
	v=$(mod_version "$w" go.opentelemetry.io/collector/otelcol)
	local stamp
	stamp=$(printf '%s\n%s\n%s\n' "$OTELCOL_BUILDER_VERSION" "$BUILD_MODE" \
		"$(hash_files "$w/builder-config.yaml" "$w/go.mod" "$w/go.sum")" | sha256sum | cut -c1-16)
	# Keyed by the manifest too, so that branches with different component
	# sets keep one build each instead of rebuilding over each other.
	local dir=$CACHE/otelcol-$v-${stamp:0:8}
	build_step otelcol "$v" "$dir" otelcol "$stamp" otelcol_compile "$dir"
}

# regen_otelcol lets the builder resolve the manifest's modules and copies
# the resulting go.mod and go.sum into tools/otelcol.
regen_otelcol() {
	local w=$ROOT/tools/otelcol builder tmp
	CURRENT="otelcol regen"
	builder=$(otelcol_builder)
	tmp=$(mktemp -d)
	log "resolving the collector manifest's modules…"
	"$builder" --config "$w/builder-config.yaml" --output-path "$tmp" --skip-compilation >&2 ||
		{ rm -rf "$tmp"; die "the collector builder could not resolve the manifest"; }
	cp "$tmp/go.mod" "$tmp/go.sum" "$w/"
	rm -rf "$tmp"
	CURRENT=""
	log "updated tools/otelcol/go.mod and go.sum: review and commit them"
}

# knative_key prints a hash of every module (path@version) the upstream
# Knative binaries are built from, so edits to go.mod that do not touch
# them do not rebuild them.
knative_key() {
	(cd "$ROOT" && "$GO" list -mod=readonly -deps \
		-f '{{with .Module}}{{.Path}}@{{.Version}}{{with .Replace}}=>{{.Path}}@{{.Version}}{{end}}{{end}}' \
		"${KNATIVE_PKG[@]}") | sort -u | sha256sum | cut -c1-16
}

build_knative() {
	local name=$1 pkg=${KNATIVE_PKG[$1]} mod v
	mod=$(cut -d/ -f1-2 <<<"$pkg")
	CURRENT="$name"
	v=$(mod_version "$ROOT" "$mod")
	[[ -n "$KNATIVE_KEY" ]] || KNATIVE_KEY=$({ knative_key; printf '%s\n' "$BUILD_MODE"; } | sha256sum | cut -c1-16) ||
		die "cannot list the Knative binaries' modules"
	local dir=$CACHE/knative-$KNATIVE_KEY
	build_step "$name" "${mod#knative.dev/} $v" "$dir" "$name" "$KNATIVE_KEY" \
		go_build "$ROOT" "$dir/$name" "" "$pkg"
}
KNATIVE_KEY=""

build() {
	CURRENT=$1
	case $1 in
	etcd) build_etcd ;;
	kube-apiserver | kubectl | kube-controller-manager | kube-scheduler | kubelet | kube-proxy) build_kubernetes "$1" ;;
	crane) build_wrapped crane github.com/google/go-containerregistry \
		github.com/google/go-containerregistry/cmd/crane "" ;;
	# `ko version` prints the module version instead of an empty one.
	ko) build_wrapped ko github.com/google/ko github.com/google/ko \
		"-X github.com/google/ko/pkg/commands.Version=$(mod_version "$ROOT/tools/ko" github.com/google/ko)" ;;
	# tools/coredns/main.go: CoreDNS with the plugins a cluster's DNS needs.
	coredns) build_wrapped coredns github.com/coredns/coredns . "" ;;
	# `traefik version` prints the module version instead of "dev".
	traefik) build_wrapped traefik github.com/traefik/traefik/v3 github.com/traefik/traefik/v3/cmd/traefik \
		"-X github.com/traefik/traefik/v3/pkg/version.Version=$(mod_version "$ROOT/tools/traefik" github.com/traefik/traefik/v3)" ;;
	otelcol) build_otelcol ;;
	jaeger) build_jaeger ;;
	kn) build_kn ;;
	queue-upstream) build_knative "$1" ;;
	*) die "unknown tool '$1' (known: ${ALL_TOOLS[*]})" ;;
	esac
}

main() {
	local names=() regen=0
	for a in "$@"; do
		case $a in
		--force) FORCE=1 ;;
		--list) printf '%s\n' "${ALL_TOOLS[@]}"; return 0 ;;
		--regen-otelcol) regen=1 ;;
		-h | --help) sed -n '16,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
		-*) die "unknown option '$a'" ;;
		*) names+=("$a") ;;
		esac
	done
	command -v "$GO" >/dev/null || die "go is not on PATH"
	mkdir -p "$CACHE"
	# One build at a time per cache: a second run waits, then finds the
	# binaries fresh.
	exec 9>"$CACHE/.tools.lock"
	if ! flock -n 9; then
		log "another hack/tools.sh holds $CACHE/.tools.lock; waiting…"
		flock 9
	fi
	if [[ $regen -eq 1 ]]; then
		regen_otelcol
		[[ ${#names[@]} -gt 0 ]] || return 0
	fi
	[[ ${#names[@]} -gt 0 ]] || names=("${ALL_TOOLS[@]}")
	local start=$SECONDS
	for n in "${names[@]}"; do
		build "$n"
	done
	log "done in $((SECONDS - start))s; binaries linked in $BIN"
}

main "$@"
