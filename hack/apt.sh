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

# hack/apt.sh installs the Debian packages kntrace's tests need: iproute2
# (ip netns, veth pairs for pod network namespaces), util-linux (unshare,
# flock, mount) and, for the local Kubernetes cluster under test/cluster,
# containerd, runc, the CNI plugins (bridge, host-local, portmap, loopback in
# /usr/lib/cni), iptables, nftables and conntrack (kube-proxy; nft to remove the
# tables iptables-nft leaves behind). The cluster runs its own
# containerd with its own configuration: the package's service and
# /etc/containerd are left as Debian ships them. With --with-chromium it also
# installs chromium (≈290 MB installed, plus its libraries) for the HTML
# screenshot test.
#
# It is quiet when everything is installed and runs `apt-get update` once,
# only when something is missing. kubectl is not installed from Debian:
# bookworm's kubernetes-client is v1.20, far outside the skew 1.35 allows;
# hack/tools.sh builds kubectl v1.35.0 instead.
#
# Usage: hack/apt.sh [--with-chromium]

set -euo pipefail

pkgs=(iproute2 util-linux containerd runc containernetworking-plugins iptables nftables conntrack)
for a in "$@"; do
	case $a in
	--with-chromium) pkgs+=(chromium) ;;
	-h | --help) sed -n '16,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "[apt] unknown argument '$a'" >&2; exit 2 ;;
	esac
done

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "[apt] need root to install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi

echo "[apt] installing ${missing[*]}…" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[apt] installed ${missing[*]}" >&2
