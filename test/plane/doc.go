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

// Package plane runs a local Knative plane made of real components on one
// Linux machine: etcd and kube-apiserver with Knative's own CRDs and
// ConfigMaps, the OpenTelemetry Collector and Jaeger, the activator (in a
// mount namespace where the autoscaler's cluster DNS name resolves to
// loopback), a small autoscaler endpoint fed by the activator's real stat
// messages, and a pod runner that starts each revision's queue-proxy and app
// as real processes in their own network namespace with the env Knative's own
// revision resources code computes from the live ConfigMaps.
//
// Knative Services are applied unchanged (ko:// images are built locally with
// go build); the plane fills in what Knative's controllers would: the
// Configuration, the Revision and its status, the private Service and its
// Endpoints. An ingress on loopback routes by Host header to the activator,
// adding the Knative-Serving-Revision and Knative-Serving-Namespace headers
// as Knative's ingresses do.
//
// Start needs root (network and mount namespaces) and the tools built by
// `make tools`. Everything it starts is stopped by Stop, also when Start fails
// half way; stale kntrace-pl-* network namespaces of a crashed earlier run are
// removed at start.
package plane
