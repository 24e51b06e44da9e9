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
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/coldstart"
)

// Names of the components whose spans the model recognises.
const (
	// ActivatorService is the service name Knative's activator reports.
	ActivatorService = "activator"
	// QueueProxyContainer is the k8s.container.name Knative's queue-proxy
	// reports (its service name is the Knative Service's).
	QueueProxyContainer = "queue-proxy"
)

// Trace is a Jaeger trace arranged for reading: spans in tree order (each
// parent before its children, siblings by start time) with depth, critical
// path, errors and cold-start phases. Its JSON/YAML form uses Jaeger's names
// (traceID, spanID, operationName, startTime) so that it can be compared
// with jaeger-idl's own answer.
type Trace struct {
	TraceID string `json:"traceID"`
	// RootSpanID is the span the tree starts from ("" for an empty trace).
	RootSpanID    string    `json:"rootSpanID,omitempty"`
	RootService   string    `json:"rootService,omitempty"`
	RootOperation string    `json:"rootOperation,omitempty"`
	StartTime     time.Time `json:"startTime"`
	// DurationMicros spans the earliest start to the latest end.
	DurationMicros int64 `json:"durationMicros"`
	SpanCount      int   `json:"spanCount"`
	// Services in order of first appearance in the tree.
	Services []string `json:"services"`
	// Errors counts spans marked as errors.
	Errors    int        `json:"errors"`
	ColdStart *ColdStart `json:"coldStart,omitempty"`
	// CriticalPath lists the span IDs on the critical path, root first.
	CriticalPath []string `json:"criticalPath,omitempty"`
	Spans        []*Span  `json:"spans"`
	// Warnings name oddities found while building the tree (orphans,
	// duplicate span IDs, reference cycles).
	Warnings []string `json:"warnings,omitempty"`

	byID map[string]*Span
}

// Span is one span of a Trace.
type Span struct {
	SpanID string `json:"spanID"`
	// ParentSpanID is the span's CHILD_OF reference as Jaeger stores it (the
	// first FOLLOWS_FROM one if there is no CHILD_OF), even when that parent
	// is not in the trace.
	ParentSpanID  string    `json:"parentSpanID,omitempty"`
	Service       string    `json:"service"`
	OperationName string    `json:"operationName"`
	Kind          string    `json:"kind,omitempty"`
	StartTime     time.Time `json:"startTime"`
	// OffsetMicros is the start relative to the trace's start.
	OffsetMicros   int64 `json:"offsetMicros"`
	DurationMicros int64 `json:"durationMicros"`
	Depth          int   `json:"depth"`
	// Orphan is true when ParentSpanID names a span the trace does not hold;
	// the span is then drawn under the root.
	Orphan       bool   `json:"orphan,omitempty"`
	Error        bool   `json:"error,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
	// ColdStart is true when the span carries faas.coldstart=true.
	ColdStart bool `json:"coldStart,omitempty"`
	// ColdStartPhase names the cold-start phase the span covers ("" when it
	// is not a phase span).
	ColdStartPhase string `json:"coldStartPhase,omitempty"`
	// ColdStartSource is the kntrace.coldstart.source of a phase span: whose
	// clock bounds the phase (activator, kube-apiserver, kubelet,
	// queue-proxy) or which component recorded its own start.
	ColdStartSource string         `json:"coldStartSource,omitempty"`
	Critical        bool           `json:"critical,omitempty"`
	Tags            map[string]any `json:"tags,omitempty"`
	ProcessTags     map[string]any `json:"processTags,omitempty"`
	// Links are the span's references other than its parent: OpenTelemetry
	// span links, which Jaeger stores as FOLLOWS_FROM references without
	// their attributes, in this trace or another.
	Links []SpanLink `json:"links,omitempty"`

	// Children in start order (not serialised: the tree is ParentSpanID and
	// Depth in Spans' order).
	Children []*Span `json:"-"`
	parent   *Span
}

// SpanLink names a span, in this trace or another.
type SpanLink struct {
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// ColdStart summarises a cold-start trace.
type ColdStart struct {
	// SpanID is the request span whose duration is the wait (see Build).
	SpanID    string `json:"spanID,omitempty"`
	Service   string `json:"service,omitempty"`
	Operation string `json:"operationName,omitempty"`
	// WaitMicros is that span's duration.
	WaitMicros int64 `json:"waitMicros"`
	// Phases are the phase spans in start order.
	Phases []Phase `json:"phases,omitempty"`
}

// Phase is one cold-start phase span.
type Phase struct {
	Name           string `json:"name"`
	SpanID         string `json:"spanID"`
	Service        string `json:"service"`
	OperationName  string `json:"operationName"`
	OffsetMicros   int64  `json:"offsetMicros"`
	DurationMicros int64  `json:"durationMicros"`
}

// End is the span's end time.
func (s *Span) End() time.Time {
	return s.StartTime.Add(time.Duration(s.DurationMicros) * time.Microsecond)
}

// Duration is the span's duration.
func (s *Span) Duration() time.Duration { return time.Duration(s.DurationMicros) * time.Microsecond }

// Parent is the span drawn above this one (nil for the root).
func (s *Span) Parent() *Span { return s.parent }

// Duration is the trace's duration.
func (t *Trace) Duration() time.Duration { return time.Duration(t.DurationMicros) * time.Microsecond }

// Span returns the span with the given hex ID, or nil.
func (t *Trace) Span(id string) *Span { return t.byID[id] }

// Root is the span the tree starts from, or nil for an empty trace.
func (t *Trace) Root() *Span {
	if len(t.Spans) == 0 {
		return nil
	}
	return t.Spans[0]
}

// ErrEmptyTrace is returned by Build for a trace without spans.
var ErrEmptyTrace = errors.New("jaeger: trace has no spans")

// Build arranges Jaeger's spans of one trace.
//
// The tree: a span's parent is its CHILD_OF reference within the same trace
// (or, without one, its first FOLLOWS_FROM reference). The root is the
// earliest span without a parent reference, or if every span has one, the
// earliest span. Orphans (a parent the trace does not hold) and further
// roots are drawn under the root and marked Orphan. Siblings are ordered by
// start time, then span ID.
//
// Errors: a span is an error when its tag error is true (or "true") or its
// tag otel.status_code is ERROR; the message is otel.status_description or
// the first exception.message / error.message / message log field.
//
// Cold start: a phase span is one whose operation starts with
// "kntrace.coldstart" or that carries kntrace.coldstart.phase (the phase
// name is that attribute, else the operation name after the prefix, else
// "coldstart"). The cold-start wait is the duration of one span marked
// faas.coldstart=true, chosen in this order: the activator's (service
// "activator"), the queue-proxy's (process tag k8s.container.name, or
// container.name, = queue-proxy), then the shallowest, earliest one. A trace with neither a
// marked span nor a phase span has no ColdStart.
//
// Links: every reference other than the one taken for the parent (span
// links, in this trace or another) is kept in Span.Links.
//
// Critical path: from the root, the child that ends last (clipped to the
// parent's end) is on the path, then the child ending last before that
// child's start, and so on recursively, as Jaeger's UI computes it.
func Build(t *model.Trace) (*Trace, error) {
	if t == nil || len(t.Spans) == 0 {
		return nil, ErrEmptyTrace
	}
	processes := map[string]*model.Process{}
	for i := range t.ProcessMap {
		processes[t.ProcessMap[i].ProcessID] = &t.ProcessMap[i].Process
	}
	first := slices.IndexFunc(t.Spans, func(s *model.Span) bool { return s != nil })
	if first < 0 {
		return nil, ErrEmptyTrace
	}
	traceID := t.Spans[first].TraceID
	out := &Trace{TraceID: traceID.String(), byID: map[string]*Span{}}
	spans := make([]*Span, 0, len(t.Spans))
	for _, ms := range t.Spans {
		if ms == nil {
			continue
		}
		if ms.TraceID != traceID {
			out.Warnings = append(out.Warnings, fmt.Sprintf("span %s belongs to trace %s, not %s: left out", ms.SpanID, ms.TraceID, traceID))
			continue
		}
		s := convert(ms, processes)
		if _, dup := out.byID[s.SpanID]; dup {
			out.Warnings = append(out.Warnings, fmt.Sprintf("span ID %s appears more than once: kept the first", s.SpanID))
			continue
		}
		out.byID[s.SpanID] = s
		spans = append(spans, s)
	}
	if len(spans) == 0 {
		return nil, ErrEmptyTrace
	}
	out.arrange(spans)
	out.summarise()
	return out, nil
}

// BuildAll builds every trace, skipping empty ones.
func BuildAll(ts []*model.Trace) ([]*Trace, error) {
	out := make([]*Trace, 0, len(ts))
	for _, t := range ts {
		b, err := Build(t)
		if errors.Is(err, ErrEmptyTrace) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func convert(ms *model.Span, processes map[string]*model.Process) *Span {
	s := &Span{
		SpanID:         ms.SpanID.String(),
		OperationName:  ms.OperationName,
		StartTime:      ms.StartTime.UTC(),
		DurationMicros: ms.Duration.Microseconds(),
		Tags:           tagMap(ms.Tags),
	}
	if p := cmp.Or(ms.Process, processes[ms.ProcessID]); p != nil {
		s.Service = p.ServiceName
		s.ProcessTags = tagMap(p.Tags)
	}
	parent := parentRef(ms)
	if parent != nil {
		s.ParentSpanID = parent.SpanID.String()
	}
	for i := range ms.References {
		if r := &ms.References[i]; r != parent {
			s.Links = append(s.Links, SpanLink{TraceID: r.TraceID.String(), SpanID: r.SpanID.String()})
		}
	}
	if k, ok := s.Tags["span.kind"].(string); ok {
		s.Kind = k
	}
	s.Error = truthy(s.Tags["error"]) || s.Tags["otel.status_code"] == "ERROR"
	if s.Error {
		s.ErrorMessage = errorMessage(ms, s.Tags)
	}
	s.ColdStart = truthy(s.Tags[attrColdStart])
	if v, ok := s.Tags[coldstart.AttrPhase]; ok {
		s.ColdStartPhase = fmt.Sprint(v)
	} else if rest, ok := strings.CutPrefix(ms.OperationName, coldstart.SpanColdStart); ok && (rest == "" || rest[0] == '.' || rest[0] == '_') {
		s.ColdStartPhase = cmp.Or(strings.TrimLeft(rest, "._"), "coldstart")
	}
	if v, ok := s.Tags[coldstart.AttrSource]; ok && s.ColdStartPhase != "" {
		s.ColdStartSource = fmt.Sprint(v)
	}
	return s
}

// parentRef is the reference Build takes for the span's parent (nil: none).
func parentRef(ms *model.Span) *model.SpanRef {
	var follows *model.SpanRef
	for i := range ms.References {
		r := &ms.References[i]
		if r.TraceID != ms.TraceID {
			continue
		}
		if r.RefType == model.SpanRefType_CHILD_OF {
			return r
		}
		if follows == nil {
			follows = r
		}
	}
	return follows
}

func tagMap(kvs []model.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for i := range kvs {
		kv := &kvs[i]
		switch kv.VType {
		case model.ValueType_BINARY:
			m[kv.Key] = base64.StdEncoding.EncodeToString(kv.VBinary)
		default:
			m[kv.Key] = kv.Value()
		}
	}
	return m
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, err := strconv.ParseBool(x)
		return err == nil && b
	}
	return false
}

func errorMessage(ms *model.Span, tags map[string]any) string {
	if v, ok := tags["otel.status_description"].(string); ok && v != "" {
		return v
	}
	for _, l := range ms.Logs {
		for _, key := range []string{"exception.message", "error.message", "message"} {
			if kv, ok := model.KeyValues(l.Fields).FindByKey(key); ok && kv.AsString() != "" {
				return kv.AsString()
			}
		}
	}
	return ""
}

// ParseTraceID reads a trace ID as a user gives it: 1 to 32 hex digits
// (Jaeger drops leading zeros), optionally prefixed with 0x, or a W3C
// traceparent (00-TRACEID-SPANID-FLAGS), surrounded by any white space. It
// returns the ID in Jaeger's form (16 hex digits for a 64-bit ID, else 32).
func ParseTraceID(s string) (model.TraceID, error) {
	in := strings.TrimSpace(s)
	if parts := strings.Split(in, "-"); len(parts) == 4 {
		if len(parts[0]) != 2 || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
			return model.TraceID{}, fmt.Errorf("trace ID %q: looks like a traceparent but is not version-traceid(32)-spanid(16)-flags", s)
		}
		in = parts[1]
	}
	if len(in) > 2 && (in[:2] == "0x" || in[:2] == "0X") {
		in = in[2:]
	}
	if in == "" || len(in) > 32 {
		return model.TraceID{}, fmt.Errorf("trace ID %q: want 1 to 32 hex digits (or a W3C traceparent)", s)
	}
	for _, c := range []byte(in) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return model.TraceID{}, fmt.Errorf("trace ID %q: %q is not a hex digit", s, c)
		}
	}
	id, err := model.TraceIDFromString(strings.ToLower(in))
	if err != nil {
		return model.TraceID{}, fmt.Errorf("trace ID %q: %w", s, err)
	}
	if id.High == 0 && id.Low == 0 {
		return model.TraceID{}, fmt.Errorf("trace ID %q: the all-zero ID is invalid", s)
	}
	return id, nil
}

// Summary is a trace without its spans, as `kn trace list` shows it.
type Summary struct {
	TraceID        string     `json:"traceID"`
	StartTime      time.Time  `json:"startTime"`
	DurationMicros int64      `json:"durationMicros"`
	SpanCount      int        `json:"spanCount"`
	Services       []string   `json:"services"`
	RootService    string     `json:"rootService"`
	RootOperation  string     `json:"rootOperation"`
	Errors         int        `json:"errors"`
	ColdStart      *ColdStart `json:"coldStart,omitempty"`
}

// Summary returns t without its spans.
func (t *Trace) Summary() Summary {
	return Summary{TraceID: t.TraceID, StartTime: t.StartTime, DurationMicros: t.DurationMicros, SpanCount: t.SpanCount,
		Services: t.Services, RootService: t.RootService, RootOperation: t.RootOperation, Errors: t.Errors, ColdStart: t.ColdStart}
}
