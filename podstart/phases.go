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

package podstart

import (
	"fmt"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/coldstart"
)

// Phase is one phase of a cold start, bounded by two records.
type Phase struct {
	// Name is one of coldstart.KubernetesPhases().
	Name       string
	Start, End time.Time
	// Source is whose clock gave End (coldstart.PhaseSource*).
	Source string
	// Evidence is the span End was taken from (invalid when the boundary
	// is the activator's or the queue-proxy's own time).
	Evidence trace.SpanContext
	// ImagePresent is set on the image phase when no image was pulled.
	ImagePresent bool
}

// Phases splits the cold start r reports into coldstart.KubernetesPhases(),
// contiguous from the request's arrival to its first response byte:
//
//	scale_up    arrival → the pod's creation ends (API server: POST pods,
//	            the last in the namespace to start before the pod's binding)
//	scheduling  → the pod's binding ends (API server: POST pods/NAME/binding)
//	sandbox     → RunPodSandbox ends (kubelet)
//	image       → plus the time the kubelet spent in PullImage (zero and
//	            "present" when it pulled nothing)
//	containers  → the last StartContainer ends (kubelet)
//	app_init    → the app's first passing readiness probe (queue-proxy)
//	readiness   → the kubelet's first status update after it ends (API
//	            server: PATCH or PUT pods/NAME/status), or the hand-off
//	            when the activator, probing the pod itself, routed first
//	endpoints   → the activator hands the request off (activator)
//	proxy       → the first response byte (activator)
//
// The kubelet pulls and starts containers one after another, so image is
// the sum of the pulls and containers the rest of that stretch. A boundary
// earlier than the one before it (clocks of different processes) is moved
// up to it: a phase can be empty, never negative. The error names the first
// record that is missing; a caller waiting for spans to arrive tries again.
func Phases(r coldstart.Report, pod PodStart, api []APIRequest) ([]Phase, error) {
	bind, ok := lastRequest(api, func(a APIRequest) bool {
		return a.Method == http.MethodPost && a.Resource == resourceBinding && a.Name == r.Pod
	})
	if !ok {
		return nil, fmt.Errorf("no API server record of binding pod %s/%s (POST pods/%s/binding)", r.Namespace, r.Pod, r.Pod)
	}
	// The scheduler sees the pod when it is stored, which can be before
	// the API server has answered its creator: the creation may end after
	// the binding starts, never start after it.
	created, ok := lastRequest(api, func(a APIRequest) bool {
		return a.Method == http.MethodPost && a.Resource == resourcePods && a.Name == "" &&
			!a.Span.End.Before(r.Arrival) && !a.Span.Start.After(bind.Span.Start)
	})
	if !ok {
		return nil, fmt.Errorf("no API server record of a pod created in %s between the request's arrival and pod %s's binding (POST pods)", r.Namespace, r.Pod)
	}
	sandbox, ok := lastSpan(pod.Spans, criRunPodSandbox)
	if !ok {
		return nil, fmt.Errorf("no kubelet span %s for pod %s/%s", criRunPodSandbox, r.Namespace, r.Pod)
	}
	started, ok := lastSpan(pod.Spans, criStartContainer)
	if !ok {
		return nil, fmt.Errorf("no kubelet span %s for pod %s/%s", criStartContainer, r.Namespace, r.Pod)
	}
	var pulled time.Duration
	var pull trace.SpanContext
	for _, s := range pod.Spans {
		if s.Service == serviceKubelet && s.Name == criPullImage {
			pulled += s.End.Sub(s.Start)
			pull = s.Context
		}
	}
	appReady := r.AppReady
	if appReady.IsZero() {
		appReady = started.End
	}
	ready, ok := firstRequest(api, func(a APIRequest) bool {
		return (a.Method == http.MethodPatch || a.Method == http.MethodPut) && a.Resource == resourceStatus &&
			a.Name == r.Pod && !a.Span.End.Before(appReady)
	})
	if !ok {
		return nil, fmt.Errorf("no API server record of pod %s/%s's status updated after its app was ready (PATCH pods/%s/status)", r.Namespace, r.Pod, r.Pod)
	}

	type bound struct {
		at       time.Time
		source   string
		evidence trace.SpanContext
	}
	bounds := []bound{
		{r.Arrival, coldstart.PhaseSourceActivator, trace.SpanContext{}},
		{created.Span.End, coldstart.PhaseSourceAPIServer, created.Span.Context},
		{bind.Span.End, coldstart.PhaseSourceAPIServer, bind.Span.Context},
		{sandbox.End, coldstart.PhaseSourceKubelet, sandbox.Context},
		{sandbox.End.Add(pulled), coldstart.PhaseSourceKubelet, pull},
		{started.End, coldstart.PhaseSourceKubelet, started.Context},
		{appReady, coldstart.PhaseSourceQueueProxy, trace.SpanContext{}},
		{ready.Span.End, coldstart.PhaseSourceAPIServer, ready.Span.Context},
		{r.Handoff, coldstart.PhaseSourceActivator, trace.SpanContext{}},
		{r.FirstByte, coldstart.PhaseSourceActivator, trace.SpanContext{}},
	}
	names := coldstart.KubernetesPhases()
	if len(names) != len(bounds)-1 {
		panic("podstart: the phases and their boundaries disagree")
	}
	// No boundary before the hand-off ends after it, none after the first
	// byte: the activator probes pods itself and can route to one before
	// the API server records it ready, and the phases stay inside the
	// request's wait. A boundary moved back to the hand-off is the
	// activator's.
	handoff := len(bounds) - 2
	phases := make([]Phase, len(names))
	prev := bounds[0].at
	for i, name := range names {
		b := bounds[i+1]
		limit := r.FirstByte
		if i+1 < handoff {
			limit = r.Handoff
		}
		end := b.at
		if end.Before(prev) {
			end = prev
		}
		if end.After(limit) {
			end, b.source, b.evidence = limit, coldstart.PhaseSourceActivator, trace.SpanContext{}
		}
		phases[i] = Phase{Name: name, Start: prev, End: end, Source: b.source, Evidence: b.evidence,
			ImagePresent: name == coldstart.PhaseImage && pulled == 0}
		prev = end
	}
	return phases, nil
}

// lastRequest is the matching request that ended last.
func lastRequest(api []APIRequest, match func(APIRequest) bool) (APIRequest, bool) {
	var best APIRequest
	found := false
	for _, a := range api {
		if match(a) && (!found || a.Span.End.After(best.Span.End)) {
			best, found = a, true
		}
	}
	return best, found
}

// firstRequest is the matching request that ended first.
func firstRequest(api []APIRequest, match func(APIRequest) bool) (APIRequest, bool) {
	var best APIRequest
	found := false
	for _, a := range api {
		if match(a) && (!found || a.Span.End.Before(best.Span.End)) {
			best, found = a, true
		}
	}
	return best, found
}

// lastSpan is the kubelet's span named name that ends last.
func lastSpan(spans []Span, name string) (Span, bool) {
	var best Span
	found := false
	for _, s := range spans {
		if s.Service == serviceKubelet && s.Name == name && (!found || s.End.After(best.End)) {
			best, found = s, true
		}
	}
	return best, found
}
