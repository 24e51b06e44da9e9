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

package coldstart

// instrumentationName is the scope of the spans Middleware records.
const instrumentationName = "github.com/kntrace/kntrace/coldstart"

// SpanColdStart prefixes the name of every cold-start span.
const SpanColdStart = "kntrace.coldstart"

// Source is the process that records its own start (RecordColdStart), under
// the span of its first request: SpanColdStart + "." + source, covering
// process start to the first request, with two children, + ".init" (process
// start to app ready) and + ".wait" (app ready to the first request). The
// two say different things, so a pod running kntrace's queue-proxy and an
// app built with the app SDK records both.
type Source string

const (
	// SourceApp is an app built with the app SDK: its own process start and
	// the moment it said it was ready (MarkReady) — the app's initialisation
	// as the app sees it.
	SourceApp Source = "app"
	// SourceQueueProxy is kntrace's queue-proxy: the queue-proxy container's
	// start and the app's first passing readiness probe — the pod's start as
	// Knative sees it, known for an app in any language.
	SourceQueueProxy Source = "queue_proxy"
)

// SpanName is the name of the source's cold-start span.
func (s Source) SpanName() string { return SpanColdStart + "." + string(s) }

// InitSpanName is the name of the source's process start to app ready span.
func (s Source) InitSpanName() string { return s.SpanName() + ".init" }

// WaitSpanName is the name of the source's app ready to first request span.
func (s Source) WaitSpanName() string { return s.SpanName() + ".wait" }

// Events on SpanColdStart.
const (
	EventProcessStart = "process.start"
	EventAppReady     = "app.ready"
	EventFirstRequest = "request.first"
)

// Attributes of the cold-start spans (besides faas.coldstart and the
// revision's faas.* and k8s.* attributes).
const (
	// AttrInitMs is process start to app readiness, in milliseconds.
	AttrInitMs = "kntrace.coldstart.init_ms"
	// AttrWaitMs is app readiness to the first request, in milliseconds.
	AttrWaitMs = "kntrace.coldstart.wait_ms"
	// AttrReadyKnown is false when the pod did not learn when its app
	// became ready (that phase then has no length).
	AttrReadyKnown = "kntrace.coldstart.ready_known"
	// AttrSource is the Source of a cold-start span.
	AttrSource = "kntrace.coldstart.source"
	// AttrPhase names the phase of a phase span.
	AttrPhase = "kntrace.coldstart.phase"
)

// The phases the activator splits a cold-started request's wait into, each
// recorded as a span named SpanPhasePrefix + phase under the request's span,
// with AttrPhase and AttrSource (whose clock bounds it). Without records of
// the pod's start from Kubernetes, the wait is PhasePodStart, PhaseAppInit,
// PhaseReadiness and PhaseProxy; with them PhasePodStart is split into
// PhaseScaleUp … PhaseContainers and PhaseReadiness into PhaseReadiness and
// PhaseEndpoints.
const (
	// SpanPhasePrefix prefixes the name of every phase span.
	SpanPhasePrefix = SpanColdStart + "."

	// PhasePodStart is request arrival to the pod's process start.
	PhasePodStart = "pod_start"
	// PhaseScaleUp is request arrival to the pod's creation: the
	// autoscaler's decision and the Deployment and ReplicaSet scaling up.
	PhaseScaleUp = "scale_up"
	// PhaseScheduling is the pod's creation to its binding to a node.
	PhaseScheduling = "scheduling"
	// PhaseSandbox is the kubelet creating the pod's sandbox (network
	// namespace, pause container).
	PhaseSandbox = "sandbox"
	// PhaseImage is pulling the containers' images (zero, with
	// AttrImage=ImagePresent, when they were on the node).
	PhaseImage = "image"
	// PhaseContainers is creating and starting the queue-proxy and app
	// containers.
	PhaseContainers = "containers"
	// PhaseAppInit is the app's process start to its being ready.
	PhaseAppInit = "app_init"
	// PhaseReadiness is the app being ready to the pod passing its
	// readiness probe (to the activator handing the request off, without
	// PhaseEndpoints).
	PhaseReadiness = "readiness"
	// PhaseEndpoints is the pod Ready to the activator seeing the backend
	// and handing the request off.
	PhaseEndpoints = "endpoints"
	// PhaseProxy is sending the request to the first response byte.
	PhaseProxy = "proxy"
)

// Whose clock bounds a phase (AttrSource on a phase span).
const (
	PhaseSourceActivator  = "activator"
	PhaseSourceAPIServer  = "kube-apiserver"
	PhaseSourceKubelet    = "kubelet"
	PhaseSourceQueueProxy = "queue-proxy"
)

// SpanKubernetes groups, under the request's span, the phases taken from
// Kubernetes' own records (KubernetesPhases); package podstart records it
// once the kubelet's and the API server's spans have arrived.
const SpanKubernetes = "kntrace.kubernetes.coldstart"

// SpanRequestLink is the span written into the kubelet's trace of a pod's
// start, linking back to the request that waited for it.
const SpanRequestLink = "kntrace.kubernetes.waiting_request"

// AttrImage on the image phase is ImagePresent when no image had to be
// pulled.
const (
	AttrImage    = "kntrace.coldstart.image"
	ImagePresent = "present"
)

// Phases returns the coarse phases, in the order they happen.
func Phases() []string { return []string{PhasePodStart, PhaseAppInit, PhaseReadiness, PhaseProxy} }

// KubernetesPhases returns the phases recorded when the pod's start is known
// from Kubernetes' own records, in the order they happen.
func KubernetesPhases() []string {
	return []string{PhaseScaleUp, PhaseScheduling, PhaseSandbox, PhaseImage, PhaseContainers,
		PhaseAppInit, PhaseReadiness, PhaseEndpoints, PhaseProxy}
}

// SpanUnsampledWait is the root of the trace the activator records a cold
// start in when the request's caller sent an unsampled context: the
// caller's decision holds for the request's own spans, and this trace,
// linked to the caller's, keeps the cold start.
const SpanUnsampledWait = "kntrace.activator.coldstart_wait"

// Every request that waits for the same scale from zero is marked
// faas.coldstart=true; the first (the leader) gets the phase spans, the
// others (followers) a span link to it with AttrRole=RoleFollower.
const (
	AttrRole     = "kntrace.coldstart.role"
	RoleFollower = "follower"
)

// MetricDuration is the activator's histogram of cold-start waits (request
// arrival to the pod's first response byte), in seconds, by revision; its
// exemplars carry the leader's trace ID.
const MetricDuration = "kntrace.coldstart.duration"
