/*
Copyright 2026 The kntrace Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package cluster boots a real single-node Kubernetes cluster on this
// machine, without Docker: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, the kubelet and kube-proxy (built by hack/tools.sh from
// tools/kubernetes), Debian's containerd, runc and CNI plugins with a
// configuration of their own, a local image registry (crane) on loopback,
// a base and a pause image made here, and CoreDNS as a pod. Nothing is
// pulled from the internet and nothing listens outside loopback and the
// cluster's own addresses (NodeIP, PodCIDR, ServiceCIDR).
//
// A test boots it with StartForTest (or Start and Stop) and talks to it
// through Client, Config or the Kubeconfig file; images go into Registry
// (BinaryImage, GoImage, Registry.BuildImage). Stop, also after a failed
// or crashed run (the next Start finds the record a crashed one left),
// removes every process, container, mount, link, cgroup, iptables chain and
// nftables table the cluster made, restores the sysctls it or the kubelet
// changed, and never touches /etc/containerd, /etc/cni or /etc/hosts.
//
// Start needs root, the packages of hack/apt.sh and the tools of
// hack/tools.sh; one cluster runs per machine.
package cluster
