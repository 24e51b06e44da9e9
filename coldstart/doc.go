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

// Package coldstart is what kntrace knows about a pod's start and owns every
// cold-start name.
//
//   - Timeline records when this process started (from /proc/self/stat),
//     when its app became ready and when its first request arrived; exactly
//     one caller claims the first request.
//   - Header is how a pod tells the activator its timeline: kntrace's
//     queue-proxy adds "K-Kntrace-Timeline: start=<ns>,ready=<ns>" to the
//     response of its first request, and the activator reads it with
//     ParseHeader (and removes it) to split the request's wait into phases.
//   - Middleware marks the first request a process serves as its cold start
//     (faas.coldstart=true, false on every other request) and records
//     SpanColdStart with SpanInit and SpanWait under that request's span;
//     RecordColdStart is the same recording for callers that hold their own
//     timeline (the queue-proxy).
//   - The phase names (PhasePodStart, PhaseAppInit, PhaseReadiness,
//     PhaseProxy) are the spans the activator records from a pod's timeline;
//     the Jaeger model (package jaeger) reads them back by the same names.
//
// KnativeAttributes gives the faas.* and k8s.* attributes of the revision
// from the environment Knative sets in the queue-proxy and app containers.
//
// The package depends only on the OpenTelemetry API, so the activator links
// it without the relay or the span buffer.
package coldstart
