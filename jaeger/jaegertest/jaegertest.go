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
)

// Start is the time the fixtures are laid out from.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Ms is f milliseconds.
func Ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// Process is a process reporting service from a Kubernetes container in a
// namespace (the resource attributes k8s.container.name and
// k8s.namespace.name).
func Process(service, container, namespace string) *model.Process {
	return &model.Process{ServiceName: service, Tags: []model.KeyValue{
		model.String("k8s.container.name", container), model.String("k8s.namespace.name", namespace),
	}}
}

// Span is span id of trace tr, from fromMs to toMs after base, under parent
// (0: none).
func Span(tr model.TraceID, id, parent uint64, p *model.Process, op string, base time.Time, fromMs, toMs float64, tags ...model.KeyValue) *model.Span {
	s := &model.Span{
		TraceID:       tr,
		SpanID:        model.SpanID(id),
		OperationName: op,
		StartTime:     base.Add(Ms(fromMs)),
		Duration:      Ms(toMs - fromMs),
		Tags:          tags,
		Process:       p,
	}
	if parent != 0 {
		s.References = []model.SpanRef{model.NewChildOfRef(tr, model.SpanID(parent))}
	}
	return s
}

// Link adds to s a link to span of trace tr, as Jaeger stores an
// OpenTelemetry span link: a FOLLOWS_FROM reference, without the link's
// attributes (Jaeger's model has no place for them).
func Link(s *model.Span, tr model.TraceID, span uint64) *model.Span {
	s.References = append(s.References, model.NewFollowsFromRef(tr, model.SpanID(span)))
	return s
}

// Trace holds spans in reverse order: Jaeger returns a trace's spans in no
// particular order.
func Trace(spans ...*model.Span) *model.Trace {
	out := &model.Trace{Spans: make([]*model.Span, 0, len(spans))}
	for i := len(spans) - 1; i >= 0; i-- {
		out.Spans = append(out.Spans, spans[i])
	}
	return out
}
