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

package jaegertest

import (
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/kntrace/kntrace/coldstart"
)

// RequestSpan is the span ID, in every ColdStart's trace, of the span that
// waited: the activator's request span, or the root
// coldstart.SpanUnsampledWait when the caller was not sampled.
const RequestSpan = 0xa1

// Span IDs of a ColdStart's other spans.
const (
	throttlerSpan  = 0xb1
	kubernetesSpan = 0xc0
	firstPhaseSpan = 0xd0
	// coarsePhaseSpan is the first of Coarse.
	coarsePhaseSpan = 0xe0
	proxySpan       = 0xe1
	podServerSpan   = 0xe2
	podColdSpan     = 0xe3
	callerSpan      = 0x99
)

// Phase is one phase of a ColdStart.
type Phase struct {
	Name   string
	Ms     float64
	Source string
	// ImagePresent marks the image phase coldstart.ImagePresent.
	ImagePresent bool
}

// ColdStart is a request that kntrace's activator held while its revision
// scaled from zero. Build it with Trace.
type ColdStart struct {
	TraceID model.TraceID
	// At is when the request reached the activator.
	At                           time.Time
	Service, Namespace, Revision string
	// Phases of a leader, contiguous from At; a follower has none.
	Phases []Phase
	// Kubernetes puts the phases under a coldstart.SpanKubernetes span (the
	// phases taken from Kubernetes' records); otherwise they are children
	// of the request span.
	Kubernetes bool
	// Coarse are the activator's own phases, recorded beside the
	// Kubernetes ones (children of the request span), as a cluster with
	// kntrace's podstart has both.
	Coarse []Phase
	// Unsampled: the caller sent an unsampled context, so the activator
	// recorded the wait in a trace of its own, rooted at
	// coldstart.SpanUnsampledWait and linked to the caller's span.
	Unsampled bool
	// Leader, for a follower: the request whose trace holds the phases; the
	// follower links to it.
	Leader *ColdStart
	// WaitMs is how long a follower waited (default 100).
	WaitMs float64
}

// CallerTraceID is the trace of the unsampled caller of c.
func (c *ColdStart) CallerTraceID() model.TraceID {
	return model.TraceID{High: c.TraceID.High ^ 0xca11e4, Low: c.TraceID.Low}
}

// Trace is c's trace as Jaeger returns it.
//
// A sampled request: the activator's server span "GET /" (RequestSpan,
// faas.coldstart=true) with throttler_try (the revision's faas.name,
// faas.version and k8s.namespace.name) until the hand-off, the phases, and
// activator_proxy to the pod's queue-proxy, whose server span marks its own
// cold start with a kntrace.coldstart.queue_proxy span. An unsampled one:
// the root coldstart.SpanUnsampledWait (faas.coldstart=true) with the
// phases. A follower's request span links to its leader's.
func (c *ColdStart) Trace() *model.Trace {
	act := Process("activator", "activator", "knative-serving")
	qp := Process(c.Service, "queue-proxy", c.Namespace)
	revision := []model.KeyValue{
		model.String(string(semconv.FaaSNameKey), c.Service),
		model.String(string(semconv.FaaSVersionKey), c.Revision),
		model.String(string(semconv.K8SNamespaceNameKey), c.Namespace),
	}
	cold := model.Bool(string(semconv.FaaSColdstartKey), true)
	span := func(id, parent uint64, p *model.Process, op string, from, to float64, tags ...model.KeyValue) *model.Span {
		return Span(c.TraceID, id, parent, p, op, c.At, from, to, tags...)
	}

	handOff, firstByte := c.WaitMs, c.WaitMs+20
	if c.Leader == nil {
		handOff, firstByte = 0, 0
		for _, p := range c.Phases {
			firstByte += p.Ms
			if p.Name != coldstart.PhaseProxy {
				handOff += p.Ms
			}
		}
	} else if handOff == 0 {
		handOff, firstByte = 100, 120
	}
	end := firstByte + 3

	var req *model.Span
	var spans []*model.Span
	if c.Unsampled {
		req = span(RequestSpan, 0, act, coldstart.SpanUnsampledWait, 0, firstByte, cold)
		Link(req, c.CallerTraceID(), callerSpan)
		spans = append(spans, req)
	} else {
		req = span(RequestSpan, 0, act, "GET /", 0, end, model.String("span.kind", "server"), cold)
		spans = append(spans, req,
			span(throttlerSpan, RequestSpan, act, "throttler_try", 0.5, handOff, revision...),
			span(proxySpan, RequestSpan, act, "activator_proxy", handOff, end-1),
			span(podServerSpan, proxySpan, qp, "GET /", handOff+1, end-2, model.String("span.kind", "server"), cold),
			span(podColdSpan, podServerSpan, qp, coldstart.SourceQueueProxy.SpanName(), max(handOff-300, 0), handOff+1,
				model.String(coldstart.AttrSource, string(coldstart.SourceQueueProxy))),
		)
	}
	if c.Leader != nil {
		Link(req, c.Leader.TraceID, RequestSpan)
	}

	for i, p := range c.Coarse {
		var at float64
		for _, q := range c.Coarse[:i] {
			at += q.Ms
		}
		spans = append(spans, span(coarsePhaseSpan+uint64(i), RequestSpan, act, coldstart.SpanPhasePrefix+p.Name, at, at+p.Ms,
			append([]model.KeyValue{model.String(coldstart.AttrPhase, p.Name), model.String(coldstart.AttrSource, p.Source)}, revision...)...))
	}
	parent := uint64(RequestSpan)
	if c.Kubernetes && len(c.Phases) > 0 {
		spans = append(spans, span(kubernetesSpan, RequestSpan, act, coldstart.SpanKubernetes, 0, firstByte))
		parent = kubernetesSpan
	}
	at := 0.0
	for i, p := range c.Phases {
		tags := append([]model.KeyValue{
			model.String(coldstart.AttrPhase, p.Name),
			model.String(coldstart.AttrSource, p.Source),
		}, revision...)
		if p.ImagePresent {
			tags = append(tags, model.String(coldstart.AttrImage, coldstart.ImagePresent))
		}
		spans = append(spans, span(firstPhaseSpan+uint64(i), parent, act, coldstart.SpanPhasePrefix+p.Name, at, at+p.Ms, tags...))
		at += p.Ms
	}
	return Trace(spans...)
}

// CoarsePhases are the four phases the activator records without
// Kubernetes' records, each from the clock that bounds it.
func CoarsePhases(podStart, appInit, readiness, proxy float64) []Phase {
	return []Phase{
		{Name: coldstart.PhasePodStart, Ms: podStart, Source: coldstart.PhaseSourceQueueProxy},
		{Name: coldstart.PhaseAppInit, Ms: appInit, Source: coldstart.PhaseSourceQueueProxy},
		{Name: coldstart.PhaseReadiness, Ms: readiness, Source: coldstart.PhaseSourceActivator},
		{Name: coldstart.PhaseProxy, Ms: proxy, Source: coldstart.PhaseSourceActivator},
	}
}

// KubernetesPhases are coldstart.KubernetesPhases with the given lengths
// (in that order) and the sources kntrace takes them from; image is
// ImagePresent when imagePresent.
func KubernetesPhases(imagePresent bool, ms ...float64) []Phase {
	sources := map[string]string{
		coldstart.PhaseScaleUp:    coldstart.PhaseSourceAPIServer,
		coldstart.PhaseScheduling: coldstart.PhaseSourceAPIServer,
		coldstart.PhaseSandbox:    coldstart.PhaseSourceKubelet,
		coldstart.PhaseImage:      coldstart.PhaseSourceKubelet,
		coldstart.PhaseContainers: coldstart.PhaseSourceKubelet,
		coldstart.PhaseAppInit:    coldstart.PhaseSourceQueueProxy,
		coldstart.PhaseReadiness:  coldstart.PhaseSourceAPIServer,
		coldstart.PhaseEndpoints:  coldstart.PhaseSourceActivator,
		coldstart.PhaseProxy:      coldstart.PhaseSourceActivator,
	}
	var out []Phase
	for i, name := range coldstart.KubernetesPhases() {
		if i >= len(ms) {
			break
		}
		out = append(out, Phase{Name: name, Ms: ms[i], Source: sources[name], ImagePresent: name == coldstart.PhaseImage && imagePresent})
	}
	return out
}

// WindowTraceID is the ID of the n-th trace of Window.
func WindowTraceID(n uint64) model.TraceID {
	return model.TraceID{High: 0x4bf92f3577b34da6, Low: 0xa3ce929d0e0e4700 + n}
}

// Window is an hour of requests that waited for cold starts, from Start:
//
//   - trace 1, hello-00001 in demo at +5m: coarse phases; trace 2 joined it.
//   - trace 3, hello-00002 in demo at +20m: Kubernetes phases, image pulled.
//   - trace 4, hello-00002 in demo at +40m, caller unsampled: Kubernetes
//     phases, image present; traces 5, 6 and 7 (unsampled) joined it.
//   - trace 8, world-00001 in demo at +30m: another Service.
//   - trace 9, hello-00001 in prod at +50m: the same name in another namespace.
//   - trace 10, hello-00002 in demo at +55m: joined a cold start whose trace
//     is not in the window.
func Window() []*ColdStart {
	at := func(m int) time.Time { return Start.Add(time.Duration(m) * time.Minute) }
	first := &ColdStart{TraceID: WindowTraceID(1), At: at(5), Service: "hello", Namespace: "demo", Revision: "hello-00001",
		Phases: CoarsePhases(1450, 400, 148, 22)}
	pulled := &ColdStart{TraceID: WindowTraceID(3), At: at(20), Service: "hello", Namespace: "demo", Revision: "hello-00002",
		Kubernetes: true, Phases: KubernetesPhases(false, 45, 12, 310, 2400, 95, 640, 700, 60, 23)}
	present := &ColdStart{TraceID: WindowTraceID(4), At: at(40), Service: "hello", Namespace: "demo", Revision: "hello-00002",
		Kubernetes: true, Unsampled: true, Phases: KubernetesPhases(true, 38, 9, 290, 0, 88, 655, 690, 52, 19)}
	lost := &ColdStart{TraceID: WindowTraceID(99)}
	joined := func(n uint64, leader *ColdStart, offsetMs float64, unsampled bool) *ColdStart {
		return &ColdStart{TraceID: WindowTraceID(n), At: leader.At.Add(Ms(offsetMs)), Service: leader.Service, Namespace: leader.Namespace,
			Revision: leader.Revision, Leader: leader, Unsampled: unsampled, WaitMs: 1900 - offsetMs}
	}
	return []*ColdStart{
		first,
		joined(2, first, 300, false),
		pulled,
		present,
		joined(5, present, 120, false),
		joined(6, present, 480, false),
		joined(7, present, 910, true),
		{TraceID: WindowTraceID(8), At: at(30), Service: "world", Namespace: "demo", Revision: "world-00001",
			Phases: CoarsePhases(1210, 150, 95, 12)},
		{TraceID: WindowTraceID(9), At: at(50), Service: "hello", Namespace: "prod", Revision: "hello-00001",
			Kubernetes: true, Phases: KubernetesPhases(true, 40, 10, 300, 0, 90, 600, 650, 55, 20)},
		{TraceID: WindowTraceID(10), At: at(55), Service: "hello", Namespace: "demo", Revision: "hello-00002",
			Leader: lost, WaitMs: 1500},
	}
}

// Traces builds the trace of every cold start.
func Traces(cs []*ColdStart) []*model.Trace {
	out := make([]*model.Trace, len(cs))
	for i, c := range cs {
		out[i] = c.Trace()
	}
	return out
}
