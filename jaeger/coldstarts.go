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
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"

	"github.com/kntrace/kntrace/coldstart"
)

// ColdStartEpisode is one scale from zero as kntrace's activator recorded
// it: the request that woke the revision (the leader), whose trace holds
// the phase spans, and the requests that waited for the same pod (joined).
type ColdStartEpisode struct {
	TraceID string `json:"traceID"`
	// SpanID is the leader's span that waited: the activator's request
	// span, or the root coldstart.SpanUnsampledWait of a trace of its own.
	SpanID string `json:"spanID"`
	// StartTime is when the leader reached the activator.
	StartTime time.Time `json:"startTime"`
	// Service, Namespace and Revision are the revision's faas.name,
	// k8s.namespace.name and faas.version.
	Service   string `json:"service,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Revision  string `json:"revision,omitempty"`
	// Unsampled: the leader's caller sent an unsampled context, and the
	// cold start was kept in a trace of its own.
	Unsampled bool `json:"unsampled,omitempty"`
	// Kubernetes: the phases are the ones taken from Kubernetes' own
	// records (under coldstart.SpanKubernetes).
	Kubernetes bool `json:"kubernetes,omitempty"`
	// TotalMicros is the first phase's start to the last one's end: the
	// leader's arrival to the pod's first response byte (0 without phases).
	TotalMicros int64 `json:"totalMicros"`
	// WaitMicros is the duration of the leader's span that waited.
	WaitMicros int64 `json:"waitMicros"`
	// Phases in the order they happen (ColdStartPhaseOrder).
	Phases []EpisodePhase `json:"phases"`
	// Joined are the other requests that waited for this cold start, by
	// arrival.
	Joined []JoinedRequest `json:"joined,omitempty"`
}

// EpisodePhase is one phase of a ColdStartEpisode.
type EpisodePhase struct {
	Name string `json:"name"`
	// Source is whose clock bounds the phase (coldstart.PhaseSource…).
	Source string `json:"source,omitempty"`
	// OffsetMicros is the phase's start after the leader's arrival.
	OffsetMicros   int64 `json:"offsetMicros"`
	DurationMicros int64 `json:"durationMicros"`
	// ImagePresent: no image had to be pulled (the image phase only).
	ImagePresent bool `json:"imagePresent,omitempty"`
}

// JoinedRequest is a request that waited for a cold start another request
// woke (a follower: marked faas.coldstart=true, without phases, linked to
// the leader).
type JoinedRequest struct {
	TraceID    string    `json:"traceID"`
	SpanID     string    `json:"spanID"`
	StartTime  time.Time `json:"startTime"`
	WaitMicros int64     `json:"waitMicros"`
	// Unsampled: recorded in a trace of its own (coldstart.SpanUnsampledWait).
	Unsampled bool `json:"unsampled,omitempty"`

	service, namespace string
}

// ColdStartFilter selects cold starts; zero fields match everything.
type ColdStartFilter struct {
	// Service and Namespace are the revision's faas.name and
	// k8s.namespace.name.
	Service, Namespace string
	// From and To bound the leader's arrival.
	From, To time.Time
}

func (f ColdStartFilter) matches(service, namespace string, at time.Time) bool {
	return (f.Service == "" || f.Service == service) && (f.Namespace == "" || f.Namespace == namespace) &&
		(f.From.IsZero() || !at.Before(f.From)) && (f.To.IsZero() || !at.After(f.To))
}

// ColdStartEpisodes finds the cold starts kntrace's activator recorded in
// traces, newest first, and the requests that joined a cold start whose
// leader is not among them (unmatched).
//
// Every activator span marked faas.coldstart=true waited for a cold start.
// One with phase spans below it (spans carrying coldstart.AttrPhase, not
// below another span marked faas.coldstart) is a leader. When some of them
// are below a coldstart.SpanKubernetes span, those are the phases (they
// split the coarse ones further); otherwise the coarse ones are. A marked
// span without phases is a follower when it has a link beyond the one an
// unsampled request has to its caller: Jaeger's model drops a link's
// attributes, so coldstart.AttrRole cannot be read. A follower joins the
// leader it links to; one whose leader is not in traces is unmatched (and
// left out when f names a Service or namespace its spans do not report).
// A marked span with neither phases nor such a link is a cold start whose
// phases were not recorded.
func ColdStartEpisodes(traces []*Trace, f ColdStartFilter) (episodes []ColdStartEpisode, unmatched []JoinedRequest) {
	type waiter struct {
		t    *Trace
		span *Span
	}
	var followers []waiter
	leaders := map[SpanLink]int{}
	var all []ColdStartEpisode
	for _, t := range traces {
		for _, s := range t.Spans {
			if !s.ColdStart || s.Service != ActivatorService {
				continue
			}
			e := newEpisode(t, s)
			// An unsampled request's first link is to its caller.
			if len(e.Phases) == 0 && len(s.Links) > 0 && !(e.Unsampled && len(s.Links) == 1) {
				followers = append(followers, waiter{t, s})
				continue
			}
			leaders[SpanLink{TraceID: e.TraceID, SpanID: e.SpanID}] = len(all)
			all = append(all, e)
		}
	}
	for _, w := range followers {
		j := joined(w.t, w.span)
		if i, ok := leaderOf(w.span, leaders); ok {
			all[i].Joined = append(all[i].Joined, j)
		} else if f.matches(j.service, j.namespace, j.StartTime) {
			unmatched = append(unmatched, j)
		}
	}
	for _, e := range all {
		if f.matches(e.Service, e.Namespace, e.StartTime) {
			slices.SortFunc(e.Joined, func(a, b JoinedRequest) int {
				return cmp.Or(a.StartTime.Compare(b.StartTime), cmp.Compare(a.TraceID, b.TraceID))
			})
			episodes = append(episodes, e)
		}
	}
	slices.SortStableFunc(episodes, func(a, b ColdStartEpisode) int {
		return cmp.Or(b.StartTime.Compare(a.StartTime), cmp.Compare(a.TraceID, b.TraceID))
	})
	slices.SortStableFunc(unmatched, func(a, b JoinedRequest) int { return b.StartTime.Compare(a.StartTime) })
	return episodes, unmatched
}

func leaderOf(s *Span, leaders map[SpanLink]int) (int, bool) {
	for _, l := range s.Links {
		if i, ok := leaders[l]; ok {
			return i, true
		}
	}
	return 0, false
}

func joined(t *Trace, w *Span) JoinedRequest {
	spans := descendants(w)
	return JoinedRequest{
		TraceID: t.TraceID, SpanID: w.SpanID, StartTime: w.StartTime, WaitMicros: w.DurationMicros,
		Unsampled: w.OperationName == coldstart.SpanUnsampledWait,
		service:   tagOf(string(semconv.FaaSNameKey), w, spans),
		namespace: tagOf(string(semconv.K8SNamespaceNameKey), w, spans),
	}
}

func newEpisode(t *Trace, w *Span) ColdStartEpisode {
	spans := descendants(w)
	var coarse, kube []*Span
	for _, s := range spans {
		if _, ok := s.Tags[coldstart.AttrPhase]; !ok {
			continue
		}
		if underKubernetes(s, w) {
			kube = append(kube, s)
		} else {
			coarse = append(coarse, s)
		}
	}
	e := ColdStartEpisode{
		TraceID: t.TraceID, SpanID: w.SpanID, StartTime: w.StartTime, WaitMicros: w.DurationMicros,
		Unsampled: w.OperationName == coldstart.SpanUnsampledWait,
		Phases:    []EpisodePhase{},
	}
	phases := coarse
	if len(kube) > 0 {
		phases, e.Kubernetes = kube, true
	}
	// The revision's attributes are on the phase spans and throttler_try.
	e.Service = tagOf(string(semconv.FaaSNameKey), w, phases, spans)
	e.Namespace = tagOf(string(semconv.K8SNamespaceNameKey), w, phases, spans)
	e.Revision = tagOf(string(semconv.FaaSVersionKey), w, phases, spans)

	var first, last time.Time
	byName := map[string]int{}
	for _, s := range phases {
		if first.IsZero() || s.StartTime.Before(first) {
			first = s.StartTime
		}
		if end := s.End(); end.After(last) {
			last = end
		}
		name := fmt.Sprint(s.Tags[coldstart.AttrPhase])
		p := EpisodePhase{Name: name, Source: s.ColdStartSource, OffsetMicros: s.StartTime.Sub(w.StartTime).Microseconds(),
			DurationMicros: s.DurationMicros, ImagePresent: s.Tags[coldstart.AttrImage] == coldstart.ImagePresent}
		// A phase recorded twice (one span per container, say) counts once,
		// with the time of both.
		if i, ok := byName[name]; ok {
			q := &e.Phases[i]
			q.OffsetMicros = min(q.OffsetMicros, p.OffsetMicros)
			q.DurationMicros += p.DurationMicros
			q.ImagePresent = q.ImagePresent && p.ImagePresent
			continue
		}
		byName[name] = len(e.Phases)
		e.Phases = append(e.Phases, p)
	}
	if len(phases) > 0 {
		e.TotalMicros = last.Sub(first).Microseconds()
	}
	slices.SortStableFunc(e.Phases, func(a, b EpisodePhase) int {
		return cmp.Or(comparePhases(a.Name, b.Name), cmp.Compare(a.OffsetMicros, b.OffsetMicros))
	})
	return e
}

// descendants are the spans below w in tree order, not descending into a
// span marked faas.coldstart (a later hop's own cold start).
func descendants(w *Span) []*Span {
	var out []*Span
	var walk func(*Span)
	walk = func(s *Span) {
		for _, c := range s.Children {
			if c.ColdStart {
				continue
			}
			out = append(out, c)
			walk(c)
		}
	}
	walk(w)
	return out
}

func underKubernetes(s, w *Span) bool {
	for a := s.parent; a != nil && a != w; a = a.parent {
		if a.OperationName == coldstart.SpanKubernetes {
			return true
		}
	}
	return false
}

// tagOf is the first value of the tag key on w or in groups, as a string.
func tagOf(key string, w *Span, groups ...[]*Span) string {
	if v, ok := w.Tags[key]; ok {
		return fmt.Sprint(v)
	}
	for _, g := range groups {
		for _, s := range g {
			if v, ok := s.Tags[key]; ok {
				return fmt.Sprint(v)
			}
		}
	}
	return ""
}

// ColdStartPhaseOrder lists the phases in the order they happen:
// coldstart.KubernetesPhases, with coldstart.PhasePodStart (which the
// phases from scale-up to containers split) before app init.
func ColdStartPhaseOrder() []string {
	var out []string
	for _, p := range coldstart.KubernetesPhases() {
		if p == coldstart.PhaseAppInit {
			out = append(out, coldstart.PhasePodStart)
		}
		out = append(out, p)
	}
	return out
}

// phaseRanks maps a phase to its place in ColdStartPhaseOrder.
var phaseRanks = func() map[string]int {
	m := map[string]int{}
	for i, p := range ColdStartPhaseOrder() {
		m[p] = i
	}
	return m
}()

// comparePhases orders phase names by ColdStartPhaseOrder, other names
// after them by name.
func comparePhases(a, b string) int {
	rank := func(n string) int {
		if i, ok := phaseRanks[n]; ok {
			return i
		}
		return len(phaseRanks)
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
}

// Summary is the episode in one line: "cold start 1.84 s: scheduling 12 ms,
// image 0 ms (present), …", phases in the order they happen.
func (e *ColdStartEpisode) Summary() string {
	if len(e.Phases) == 0 {
		return "cold start: no phases recorded"
	}
	parts := make([]string, len(e.Phases))
	for i, p := range e.Phases {
		parts[i] = PhaseLabel(p.Name) + " " + FormatColdStartDuration(p.DurationMicros)
		if p.ImagePresent {
			parts[i] += " (" + coldstart.ImagePresent + ")"
		}
	}
	return "cold start " + FormatColdStartDuration(e.TotalMicros) + ": " + strings.Join(parts, ", ")
}

// PhaseLabel is a phase's name as text shows it: app_init is "app init".
func PhaseLabel(name string) string { return strings.ReplaceAll(name, "_", " ") }

// FormatColdStartDuration writes a duration in microseconds as the
// cold-start summary does: whole milliseconds below a second ("640 ms"),
// else seconds with two decimals ("1.84 s").
func FormatColdStartDuration(micros int64) string {
	ms := math.Round(float64(micros) / 1000)
	if ms < 1000 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.2f s", float64(micros)/1e6)
}

// Percentiles of a set of durations, by the nearest-rank method (p50 and
// p95 are durations that occurred).
type Percentiles struct {
	Count     int   `json:"count"`
	P50Micros int64 `json:"p50Micros"`
	P95Micros int64 `json:"p95Micros"`
}

// PhasePercentiles are the percentiles of one phase over the cold starts
// that have it.
type PhasePercentiles struct {
	Phase string `json:"phase"`
	Percentiles
}

// ColdStartStats are the percentiles of the cold starts' totals and of each
// phase.
type ColdStartStats struct {
	Total  Percentiles        `json:"total"`
	Phases []PhasePercentiles `json:"phases"`
}

// NewPercentiles computes the percentiles of vs (nearest rank: the p-th is
// the ⌈p·n/100⌉-th smallest).
func NewPercentiles(vs []int64) Percentiles {
	if len(vs) == 0 {
		return Percentiles{}
	}
	s := slices.Sorted(slices.Values(vs))
	rank := func(p int) int64 { return s[max((p*len(s)+99)/100, 1)-1] }
	return Percentiles{Count: len(s), P50Micros: rank(50), P95Micros: rank(95)}
}

// NewColdStartStats computes the percentiles of the episodes' totals (of
// those with phases) and of every phase, phases in the order they happen.
func NewColdStartStats(episodes []ColdStartEpisode) ColdStartStats {
	var totals []int64
	byPhase := map[string][]int64{}
	for _, e := range episodes {
		if len(e.Phases) > 0 {
			totals = append(totals, e.TotalMicros)
		}
		for _, p := range e.Phases {
			byPhase[p.Name] = append(byPhase[p.Name], p.DurationMicros)
		}
	}
	st := ColdStartStats{Total: NewPercentiles(totals), Phases: []PhasePercentiles{}}
	for _, name := range slices.SortedFunc(maps.Keys(byPhase), comparePhases) {
		st.Phases = append(st.Phases, PhasePercentiles{Phase: name, Percentiles: NewPercentiles(byPhase[name])})
	}
	return st
}

// ColdStartReport is what `kn trace coldstarts` shows: the cold starts of a
// window, newest first, and the percentiles of their phases.
type ColdStartReport struct {
	Service   string    `json:"service,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	// Count is how many cold starts the window holds; ColdStarts lists the
	// newest of them, up to the limit, and Stats covers all of them.
	Count      int                `json:"count"`
	ColdStarts []ColdStartEpisode `json:"coldStarts"`
	// Unmatched are requests that waited for a cold start whose leader's
	// trace is not in the window (it started earlier, or was not kept).
	Unmatched []JoinedRequest `json:"unmatched,omitempty"`
	Stats     ColdStartStats  `json:"stats"`
	// Warnings say what may be missing from the report.
	Warnings []string `json:"warnings,omitempty"`
}

// NewColdStartReport builds the report of the cold starts in traces that f
// selects, listing the newest limit of them (0: all).
func NewColdStartReport(traces []*Trace, f ColdStartFilter, limit int) *ColdStartReport {
	episodes, unmatched := ColdStartEpisodes(traces, f)
	r := &ColdStartReport{Service: f.Service, Namespace: f.Namespace, From: f.From, To: f.To, Count: len(episodes),
		ColdStarts: episodes, Unmatched: unmatched, Stats: NewColdStartStats(episodes)}
	if limit > 0 && len(r.ColdStarts) > limit {
		r.ColdStarts = r.ColdStarts[:limit]
	}
	return r
}

// ColdStartSearchDepth is how many traces ColdStartQuery asks Jaeger for.
const ColdStartSearchDepth = 1000

// ColdStartQuery selects the traces in which kntrace's activator marked a
// span faas.coldstart=true (leaders, followers and the traces of their own
// that unsampled callers' cold starts are kept in), started between from
// and to.
func ColdStartQuery(from, to time.Time) Query {
	return Query{Service: ActivatorService, Tags: map[string]string{attrColdStart: "true"}, StartMin: from, StartMax: to, Limit: ColdStartSearchDepth}
}
