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

// Package tunnel lets kn trace reach a Service inside the cluster — Jaeger's
// query API, the collector — through the API server, as kubectl
// port-forward, istioctl dashboard and linkerd viz do: it picks a ready pod
// behind the Service, forwards a local loopback port to the pod's port over
// the API server's pods/portforward subresource, and gives the local
// address to dial. Nothing in the cluster changes and nothing listens
// beyond 127.0.0.1.
//
// It needs RBAC to get Services and EndpointSlices and to create
// pods/portforward in the Service's namespace.
package tunnel
