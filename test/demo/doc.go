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

// Package demo is what `make demo` runs: the real single-node Kubernetes
// 1.35 cluster of package test/cluster on this machine, with Knative Serving
// and Eventing v0.50.0 built from their own releases and Traefik as the
// ingress, and kntrace installed and used on it the way a platform engineer
// would: `ko apply -Rf config/` and its overlays, `kn trace config`, the
// samples deployed with `ko apply`, requests from outside the cluster
// through Traefik while the revisions are at zero, and each trace drawn by
// `kn trace get`, which reaches Jaeger through the API server.
//
// It needs root, the packages of hack/apt.sh, the tools of hack/tools.sh and
// the images of `kntrace-cluster prepare` (hack/demo.sh runs all three); one
// cluster runs per machine, so the demo waits while a cluster test runs.
package demo
