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

// Package podstart puts the Kubernetes side of a cold start into the trace
// of the request that waited for it. The kubelet, the container runtime and
// the API server trace themselves (their tracing configurations point at
// kntrace's collector), but each into traces of its own: the kubelet's
// syncPod with its CRI calls (RunPodSandbox, PullImage, CreateContainer,
// StartContainer), containerd's side of those calls, and the API server's
// requests that scale the revision's Deployment, create and bind its pod
// and publish its endpoints.
//
// An Index keeps those spans for a while, found by pod and by trace, and
// the API server's requests that create, bind and update the status of
// pods. When the activator reports a scale from zero (coldstart.Report: the
// first request that waited, the pod that answered it, the activator's
// arrival, hand-off and first-byte times and the queue-proxy's timeline),
// Phases splits the wait at boundaries taken from the clocks of the
// components that own them — the activator's for arrival, hand-off and
// first byte, the API server's for the pod's creation, binding and Ready
// status, the kubelet's for sandbox, images and containers, the
// queue-proxy's for the app's readiness — and Recorder writes them as phase
// spans under the request's span, each naming its source and linked to the
// span it was taken from, and writes into the kubelet's trace a span that
// links back to the request.
//
// Server serves both inputs: an OTLP/gRPC trace receiver that indexes what
// it receives and relays all of it to the collector (package otlprelay),
// and the activator's reports over HTTP (coldstart.ReportPath). A report
// waits, bounded, for its records; memory is bounded: spans expire after a
// retention period and the index holds a bounded number of traces.
package podstart
