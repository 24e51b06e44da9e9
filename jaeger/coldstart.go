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

package jaeger

import (
	"cmp"
	"slices"

	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// attrColdStart is the semantic-convention attribute set to true on the
// request span that waited for a cold start.
var attrColdStart = string(semconv.FaaSColdstartKey)

func (t *Trace) summarise() {
	root := t.Spans[0]
	t.RootSpanID, t.RootService, t.RootOperation = root.SpanID, root.Service, root.OperationName
	start, end := root.StartTime, root.End()
	for _, s := range t.Spans {
		if s.StartTime.Before(start) {
			start = s.StartTime
		}
		if e := s.End(); e.After(end) {
			end = e
		}
	}
	t.StartTime = start
	t.DurationMicros = end.Sub(start).Microseconds()
	t.SpanCount = len(t.Spans)
	services := map[string]bool{}
	var marked []*Span
	cs := &ColdStart{}
	for _, s := range t.Spans {
		s.OffsetMicros = s.StartTime.Sub(start).Microseconds()
		if !services[s.Service] {
			services[s.Service] = true
			t.Services = append(t.Services, s.Service)
		}
		if s.Error {
			t.Errors++
		}
		if s.ColdStart {
			marked = append(marked, s)
		}
	}
	phases := t.Spans
	if w := waitSpan(marked); w != nil {
		cs.SpanID, cs.Service, cs.Operation, cs.WaitMicros = w.SpanID, w.Service, w.OperationName, w.DurationMicros
		// The phases that explain this wait are the ones under it; a later
		// hop's own cold start (below another faas.coldstart span) is its own.
		if own := phasesUnder(w); len(own) > 0 {
			phases = own
			// The phases taken from Kubernetes' records split the
			// activator's coarse ones further: show those alone.
			if k8s := slices.DeleteFunc(slices.Clone(own), func(s *Span) bool { return !underKubernetes(s, w) }); len(k8s) > 0 {
				phases = k8s
			}
		}
	}
	for _, s := range phases {
		if s.ColdStartPhase != "" {
			cs.Phases = append(cs.Phases, Phase{Name: s.ColdStartPhase, SpanID: s.SpanID, Service: s.Service, OperationName: s.OperationName,
				OffsetMicros: s.OffsetMicros, DurationMicros: s.DurationMicros})
		}
	}
	if len(marked) > 0 || len(cs.Phases) > 0 {
		// Phases that start together (a zero-length image pull and the
		// containers' start) keep the order they happen in.
		slices.SortStableFunc(cs.Phases, func(a, b Phase) int {
			return cmp.Or(cmp.Compare(a.OffsetMicros, b.OffsetMicros), comparePhases(a.Name, b.Name))
		})
		t.ColdStart = cs
	}
	t.markCritical(root, root.End())
}

// phasesUnder returns the phase spans below w, not descending into another
// span marked faas.coldstart.
func phasesUnder(w *Span) []*Span {
	return slices.DeleteFunc(descendants(w), func(s *Span) bool { return s.ColdStartPhase == "" })
}

// waitSpan picks the span whose duration is the cold-start wait.
func waitSpan(marked []*Span) *Span {
	if len(marked) == 0 {
		return nil
	}
	for _, pick := range []func(*Span) bool{
		func(s *Span) bool { return s.Service == ActivatorService },
		isQueueProxy,
	} {
		for _, s := range marked {
			if pick(s) {
				return s
			}
		}
	}
	return slices.MinFunc(marked, func(a, b *Span) int { return cmp.Or(cmp.Compare(a.Depth, b.Depth), byStart(a, b)) })
}

// isQueueProxy reports whether s comes from a queue-proxy container: the
// process tag k8s.container.name, or container.name as Knative v0.50.0's
// queue-proxy spells it (knative.dev/pkg's semconv.K8SContainerName returns
// semconv.ContainerName).
func isQueueProxy(s *Span) bool {
	return s.ProcessTags["k8s.container.name"] == QueueProxyContainer || s.ProcessTags["container.name"] == QueueProxyContainer
}
