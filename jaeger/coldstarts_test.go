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
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	model "github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger/jaegertest"
)

// buildAll builds the traces of cold starts and of extra model traces.
func buildAll(t *testing.T, cs []*jaegertest.ColdStart, extra ...*model.Trace) []*Trace {
	t.Helper()
	out, err := BuildAll(append(jaegertest.Traces(cs), extra...))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	requestSpan = model.SpanID(jaegertest.RequestSpan).String()
	window      = jaegertest.Window()
)

func traceID(n uint64) string { return jaegertest.WindowTraceID(n).String() }

// coarseEpisode is the cold start of window's trace 1 with its phases.
func coarseEpisode() ColdStartEpisode {
	return ColdStartEpisode{
		TraceID: traceID(1), SpanID: requestSpan, StartTime: window[0].At, Service: "hello", Namespace: "demo", Revision: "hello-00001",
		TotalMicros: 2020000, WaitMicros: 2023000,
		Phases: []EpisodePhase{
			{Name: coldstart.PhasePodStart, Source: coldstart.PhaseSourceQueueProxy, OffsetMicros: 0, DurationMicros: 1450000},
			{Name: coldstart.PhaseAppInit, Source: coldstart.PhaseSourceQueueProxy, OffsetMicros: 1450000, DurationMicros: 400000},
			{Name: coldstart.PhaseReadiness, Source: coldstart.PhaseSourceActivator, OffsetMicros: 1850000, DurationMicros: 148000},
			{Name: coldstart.PhaseProxy, Source: coldstart.PhaseSourceActivator, OffsetMicros: 1998000, DurationMicros: 22000},
		},
	}
}

// presentEpisode is window's trace 4: Kubernetes phases, image present,
// recorded in a trace of its own.
func presentEpisode() ColdStartEpisode {
	api, kubelet, qp, act := coldstart.PhaseSourceAPIServer, coldstart.PhaseSourceKubelet, coldstart.PhaseSourceQueueProxy, coldstart.PhaseSourceActivator
	return ColdStartEpisode{
		TraceID: traceID(4), SpanID: requestSpan, StartTime: window[3].At, Service: "hello", Namespace: "demo", Revision: "hello-00002",
		Unsampled: true, Kubernetes: true, TotalMicros: 1841000, WaitMicros: 1841000,
		Phases: []EpisodePhase{
			{Name: coldstart.PhaseScaleUp, Source: api, OffsetMicros: 0, DurationMicros: 38000},
			{Name: coldstart.PhaseScheduling, Source: api, OffsetMicros: 38000, DurationMicros: 9000},
			{Name: coldstart.PhaseSandbox, Source: kubelet, OffsetMicros: 47000, DurationMicros: 290000},
			{Name: coldstart.PhaseImage, Source: kubelet, OffsetMicros: 337000, DurationMicros: 0, ImagePresent: true},
			{Name: coldstart.PhaseContainers, Source: kubelet, OffsetMicros: 337000, DurationMicros: 88000},
			{Name: coldstart.PhaseAppInit, Source: qp, OffsetMicros: 425000, DurationMicros: 655000},
			{Name: coldstart.PhaseReadiness, Source: api, OffsetMicros: 1080000, DurationMicros: 690000},
			{Name: coldstart.PhaseEndpoints, Source: act, OffsetMicros: 1770000, DurationMicros: 52000},
			{Name: coldstart.PhaseProxy, Source: act, OffsetMicros: 1822000, DurationMicros: 19000},
		},
	}
}

func joinedOf(n uint64, c *jaegertest.ColdStart, waitMs int64, unsampled bool) JoinedRequest {
	return JoinedRequest{TraceID: traceID(n), SpanID: requestSpan, StartTime: c.At, WaitMicros: waitMs * 1000, Unsampled: unsampled}
}

func TestColdStartEpisodes(t *testing.T) {
	act := jaegertest.Process("activator", "activator", "knative-serving")
	qp := jaegertest.Process("hello", "queue-proxy", "demo")
	cold := model.Bool(attrColdStart, true)
	phaseTags := func(name string) []model.KeyValue {
		return []model.KeyValue{model.String(coldstart.AttrPhase, name), model.String(coldstart.AttrSource, coldstart.PhaseSourceActivator)}
	}
	tr := jaegertest.WindowTraceID(42)
	span := func(id, parent uint64, p *model.Process, op string, from, to float64, tags ...model.KeyValue) *model.Span {
		return jaegertest.Span(tr, id, parent, p, op, jaegertest.Start, from, to, tags...)
	}
	// A request whose trace holds both the activator's coarse phases and
	// the Kubernetes ones that split them.
	both := window[0].Trace()
	kube := func(id, parent uint64, name string, from, to float64, tags ...model.KeyValue) *model.Span {
		return jaegertest.Span(window[0].TraceID, id, parent, act, name, window[0].At, from, to, tags...)
	}
	both.Spans = append(both.Spans,
		kube(0xf0, jaegertest.RequestSpan, coldstart.SpanKubernetes, 0, 1450),
		kube(0xf1, 0xf0, coldstart.SpanPhasePrefix+coldstart.PhaseScheduling, 0, 1000, phaseTags(coldstart.PhaseScheduling)...),
		kube(0xf2, 0xf0, coldstart.SpanPhasePrefix+coldstart.PhaseContainers, 1000, 1200, phaseTags(coldstart.PhaseContainers)...),
		kube(0xf3, 0xf0, coldstart.SpanPhasePrefix+coldstart.PhaseContainers, 1200, 1450, phaseTags(coldstart.PhaseContainers)...),
	)

	tests := []struct {
		name          string
		cold          []*jaegertest.ColdStart
		traces        []*model.Trace
		filter        ColdStartFilter
		want          []ColdStartEpisode
		wantUnmatched []JoinedRequest
	}{{
		name: "coarse phases under the request span",
		cold: window[:1],
		want: []ColdStartEpisode{coarseEpisode()},
	}, {
		name: "Kubernetes phases, image present, caller unsampled",
		cold: window[3:4],
		want: []ColdStartEpisode{presentEpisode()},
	}, {
		name: "followers join their leader, sampled or not, leader listed once",
		cold: window[3:7],
		want: []ColdStartEpisode{func() ColdStartEpisode {
			e := presentEpisode()
			e.Joined = []JoinedRequest{joinedOf(5, window[4], 1803, false), joinedOf(6, window[5], 1443, false), joinedOf(7, window[6], 1010, true)}
			return e
		}()},
	}, {
		name: "a follower is joined whichever order the traces come in",
		cold: []*jaegertest.ColdStart{window[1], window[0]},
		want: []ColdStartEpisode{func() ColdStartEpisode {
			e := coarseEpisode()
			e.Joined = []JoinedRequest{joinedOf(2, window[1], 1623, false)}
			return e
		}()},
	}, {
		name:          "a follower whose leader is not in the traces",
		cold:          window[9:10],
		want:          nil,
		wantUnmatched: []JoinedRequest{joinedOf(10, window[9], 1523, false)},
	}, {
		name:   "the Kubernetes phases replace the coarse ones; a phase in two spans counts once",
		traces: []*model.Trace{both},
		want: []ColdStartEpisode{func() ColdStartEpisode {
			e := coarseEpisode()
			e.Kubernetes, e.TotalMicros = true, 1450000
			e.Phases = []EpisodePhase{
				{Name: coldstart.PhaseScheduling, Source: coldstart.PhaseSourceActivator, DurationMicros: 1000000},
				{Name: coldstart.PhaseContainers, Source: coldstart.PhaseSourceActivator, OffsetMicros: 1000000, DurationMicros: 450000},
			}
			return e
		}()},
	}, {
		name: "a pod's own cold start is not one the activator held",
		traces: []*model.Trace{jaegertest.Trace(
			span(1, 0, qp, "GET /", 0, 100, cold),
			span(2, 1, qp, coldstart.SourceQueueProxy.SpanName(), 0, 50, model.String(coldstart.AttrSource, string(coldstart.SourceQueueProxy))),
		)},
		want: nil,
	}, {
		name: "one caller, two requests: the follower links to the leader in the same trace",
		traces: []*model.Trace{jaegertest.Trace(
			span(1, 0, qp, "fan-out", 0, 500),
			span(2, 1, act, "GET /", 1, 400, cold),
			span(3, 2, act, coldstart.SpanPhasePrefix+coldstart.PhasePodStart, 1, 390, phaseTags(coldstart.PhasePodStart)...),
			jaegertest.Link(span(4, 1, act, "GET /", 2, 420, cold), tr, 2),
		)},
		want: []ColdStartEpisode{{
			TraceID: tr.String(), SpanID: id(2), StartTime: jaegertest.Start.Add(time.Millisecond), TotalMicros: 389000, WaitMicros: 399000,
			Phases: []EpisodePhase{{Name: coldstart.PhasePodStart, Source: coldstart.PhaseSourceActivator, DurationMicros: 389000}},
			Joined: []JoinedRequest{{TraceID: tr.String(), SpanID: id(4), StartTime: jaegertest.Start.Add(2 * time.Millisecond), WaitMicros: 418000}},
		}},
	}, {
		name: "a chain of two cold starts: each has its own phases",
		traces: []*model.Trace{jaegertest.Trace(
			span(1, 0, act, "GET /a", 0, 900, cold),
			span(2, 1, act, coldstart.SpanPhasePrefix+coldstart.PhaseProxy, 0, 800, phaseTags(coldstart.PhaseProxy)...),
			span(3, 2, act, "GET /b", 100, 700, cold),
			span(4, 3, act, coldstart.SpanPhasePrefix+coldstart.PhaseProxy, 100, 600, phaseTags(coldstart.PhaseProxy)...),
		)},
		want: []ColdStartEpisode{{
			TraceID: tr.String(), SpanID: id(3), StartTime: jaegertest.Start.Add(100 * time.Millisecond), TotalMicros: 500000, WaitMicros: 600000,
			Phases: []EpisodePhase{{Name: coldstart.PhaseProxy, Source: coldstart.PhaseSourceActivator, DurationMicros: 500000}},
		}, {
			TraceID: tr.String(), SpanID: id(1), StartTime: jaegertest.Start, TotalMicros: 800000, WaitMicros: 900000,
			Phases: []EpisodePhase{{Name: coldstart.PhaseProxy, Source: coldstart.PhaseSourceActivator, DurationMicros: 800000}},
		}},
	}, {
		name:   "marked without phases or a link: a cold start whose phases were not recorded",
		traces: []*model.Trace{jaegertest.Trace(span(1, 0, act, "GET /", 0, 900, cold))},
		want: []ColdStartEpisode{{
			TraceID: tr.String(), SpanID: id(1), StartTime: jaegertest.Start, WaitMicros: 900000, Phases: []EpisodePhase{},
		}},
	}, {
		name:   "an unmarked request is no cold start",
		traces: []*model.Trace{jaegertest.Trace(span(1, 0, act, "GET /", 0, 9), span(2, 1, act, "throttler_try", 0, 1))},
		want:   nil,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, unmatched := ColdStartEpisodes(buildAll(t, tc.cold, tc.traces...), tc.filter)
			opt := cmpopts.IgnoreUnexported(JoinedRequest{})
			if diff := cmp.Diff(tc.want, got, opt); diff != "" {
				t.Errorf("episodes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUnmatched, unmatched, opt); diff != "" {
				t.Errorf("unmatched (-want +got):\n%s", diff)
			}
		})
	}
}

func TestColdStartFilter(t *testing.T) {
	traces := buildAll(t, window)
	at := func(m int) time.Time { return jaegertest.Start.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name          string
		filter        ColdStartFilter
		want          []string
		wantUnmatched []string
	}{
		{"everything, newest first", ColdStartFilter{}, []string{traceID(9), traceID(4), traceID(8), traceID(3), traceID(1)}, []string{traceID(10)}},
		{"one Service in every namespace", ColdStartFilter{Service: "hello"}, []string{traceID(9), traceID(4), traceID(3), traceID(1)}, []string{traceID(10)}},
		{"one Service in one namespace", ColdStartFilter{Service: "hello", Namespace: "demo"}, []string{traceID(4), traceID(3), traceID(1)}, []string{traceID(10)}},
		{"another namespace", ColdStartFilter{Namespace: "prod"}, []string{traceID(9)}, nil},
		{"a Service without cold starts", ColdStartFilter{Service: "nope"}, nil, nil},
		{"a window", ColdStartFilter{From: at(20), To: at(40)}, []string{traceID(4), traceID(8), traceID(3)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			episodes, unmatched := ColdStartEpisodes(traces, tc.filter)
			var got, gotUnmatched []string
			for _, e := range episodes {
				got = append(got, e.TraceID)
			}
			for _, j := range unmatched {
				gotUnmatched = append(gotUnmatched, j.TraceID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("cold starts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUnmatched, gotUnmatched); diff != "" {
				t.Errorf("unmatched (-want +got):\n%s", diff)
			}
		})
	}
}

func TestColdStartSummary(t *testing.T) {
	tests := []struct {
		name   string
		phases []jaegertest.Phase
		want   string
	}{{
		name:   "Kubernetes phases, image present",
		phases: jaegertest.KubernetesPhases(true, 0, 12, 310, 0, 95, 640, 700, 60, 23)[1:],
		want:   "cold start 1.84 s: scheduling 12 ms, sandbox 310 ms, image 0 ms (present), containers 95 ms, app init 640 ms, readiness 700 ms, endpoints 60 ms, proxy 23 ms",
	}, {
		name:   "image pulled",
		phases: jaegertest.KubernetesPhases(false, 45, 12, 310, 2400, 95, 640, 700, 60, 23),
		want:   "cold start 4.29 s: scale up 45 ms, scheduling 12 ms, sandbox 310 ms, image 2.40 s, containers 95 ms, app init 640 ms, readiness 700 ms, endpoints 60 ms, proxy 23 ms",
	}, {
		name:   "coarse phases",
		phases: jaegertest.CoarsePhases(450, 300, 148, 22),
		want:   "cold start 920 ms: pod start 450 ms, app init 300 ms, readiness 148 ms, proxy 22 ms",
	}, {
		name: "no phases",
		want: "cold start: no phases recorded",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &jaegertest.ColdStart{TraceID: jaegertest.WindowTraceID(1), At: jaegertest.Start, Service: "hello", Kubernetes: true, Phases: tc.phases}
			episodes, _ := ColdStartEpisodes(buildAll(t, []*jaegertest.ColdStart{c}), ColdStartFilter{})
			if len(episodes) != 1 {
				t.Fatalf("%d cold starts, want 1", len(episodes))
			}
			if got := episodes[0].Summary(); got != tc.want {
				t.Errorf("Summary() =\n%q, want\n%q", got, tc.want)
			}
		})
	}
}

func TestFormatColdStartDuration(t *testing.T) {
	tests := []struct {
		micros int64
		want   string
	}{
		{0, "0 ms"}, {499, "0 ms"}, {500, "1 ms"}, {640000, "640 ms"}, {999400, "999 ms"},
		{999600, "1.00 s"}, {1840000, "1.84 s"}, {75123456, "75.12 s"},
	}
	for _, tc := range tests {
		if got := FormatColdStartDuration(tc.micros); got != tc.want {
			t.Errorf("FormatColdStartDuration(%d) = %q, want %q", tc.micros, got, tc.want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	seq := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(n - i) // descending: the input's order does not matter
		}
		return out
	}
	tests := []struct {
		name string
		in   []int64
		want Percentiles
	}{
		{"none", nil, Percentiles{}},
		{"one", []int64{7}, Percentiles{Count: 1, P50Micros: 7, P95Micros: 7}},
		{"two", []int64{9, 1}, Percentiles{Count: 2, P50Micros: 1, P95Micros: 9}},
		{"three", []int64{1841, 4285, 2020}, Percentiles{Count: 3, P50Micros: 2020, P95Micros: 4285}},
		{"twenty", seq(20), Percentiles{Count: 20, P50Micros: 10, P95Micros: 19}},
		{"a hundred", seq(100), Percentiles{Count: 100, P50Micros: 50, P95Micros: 95}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NewPercentiles(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestColdStartStats(t *testing.T) {
	episodes, _ := ColdStartEpisodes(buildAll(t, window), ColdStartFilter{Service: "hello", Namespace: "demo"})
	got := NewColdStartStats(append(episodes, ColdStartEpisode{Phases: []EpisodePhase{}}))
	p := func(phase string, n int, p50, p95 int64) PhasePercentiles {
		return PhasePercentiles{Phase: phase, Percentiles: Percentiles{Count: n, P50Micros: p50 * 1000, P95Micros: p95 * 1000}}
	}
	want := ColdStartStats{
		// A cold start without phases has no total.
		Total: Percentiles{Count: 3, P50Micros: 2020000, P95Micros: 4285000},
		Phases: []PhasePercentiles{
			p(coldstart.PhaseScaleUp, 2, 38, 45),
			p(coldstart.PhaseScheduling, 2, 9, 12),
			p(coldstart.PhaseSandbox, 2, 290, 310),
			p(coldstart.PhaseImage, 2, 0, 2400),
			p(coldstart.PhaseContainers, 2, 88, 95),
			p(coldstart.PhasePodStart, 1, 1450, 1450),
			p(coldstart.PhaseAppInit, 3, 640, 655),
			p(coldstart.PhaseReadiness, 3, 690, 700),
			p(coldstart.PhaseEndpoints, 2, 52, 60),
			p(coldstart.PhaseProxy, 3, 22, 23),
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestNewColdStartReportLimit(t *testing.T) {
	r := NewColdStartReport(buildAll(t, window), ColdStartFilter{Service: "hello", Namespace: "demo"}, 2)
	if r.Count != 3 || len(r.ColdStarts) != 2 || r.Stats.Total.Count != 3 {
		t.Errorf("count %d, %d listed, stats over %d; want 3, the newest 2, stats over all 3", r.Count, len(r.ColdStarts), r.Stats.Total.Count)
	}
	if r.ColdStarts[0].TraceID != traceID(4) || r.ColdStarts[1].TraceID != traceID(3) {
		t.Errorf("listed %s, %s; want the newest: %s, %s", r.ColdStarts[0].TraceID, r.ColdStarts[1].TraceID, traceID(4), traceID(3))
	}
}

// Links other than the parent reference are kept: a follower's link to its
// leader, an unsampled request's to its caller.
func TestBuildKeepsLinks(t *testing.T) {
	tr, err := Build(window[6].Trace())
	if err != nil {
		t.Fatal(err)
	}
	want := []SpanLink{
		{TraceID: window[6].CallerTraceID().String(), SpanID: model.SpanID(0x99).String()},
		{TraceID: traceID(4), SpanID: requestSpan},
	}
	if diff := cmp.Diff(want, tr.Root().Links); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	if tr.Root().ParentSpanID != "" {
		t.Errorf("ParentSpanID = %q: a link to another trace is not a parent", tr.Root().ParentSpanID)
	}
	child, err := Build(window[1].Trace())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range child.Spans[1:] {
		if len(s.Links) != 0 {
			t.Errorf("span %s %s: links %v, want none (its only reference is its parent)", s.SpanID, s.OperationName, s.Links)
		}
	}
}

func BenchmarkColdStartReport(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("windows=%d", n), func(b *testing.B) {
			var cs []*jaegertest.ColdStart
			for i := range n {
				for _, c := range jaegertest.Window() {
					c.TraceID.High += uint64(i) << 32 // followers' Leader is shifted with it
					cs = append(cs, c)
				}
			}
			traces, err := BuildAll(jaegertest.Traces(cs))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				NewColdStartReport(traces, ColdStartFilter{Service: "hello"}, 20)
			}
		})
	}
}

// TestKubernetesPhasesReplaceCoarse: a trace with the activator's four
// coarse phases and podstart's Kubernetes phases (a cluster with podstart)
// shows the Kubernetes ones, in the trace's summary and in its episode.
func TestKubernetesPhasesReplaceCoarse(t *testing.T) {
	c := &jaegertest.ColdStart{
		TraceID: jaegertest.WindowTraceID(99), At: jaegertest.Start, Service: "hello", Namespace: "demo", Revision: "hello-00001",
		Kubernetes: true, Phases: jaegertest.KubernetesPhases(true, 30, 12, 310, 0, 95, 640, 700, 60, 23),
		Coarse: jaegertest.CoarsePhases(447, 640, 760, 23),
	}
	tr := buildAll(t, []*jaegertest.ColdStart{c})[0]
	var got []string
	for _, p := range tr.ColdStart.Phases {
		got = append(got, p.Name)
	}
	if diff := cmp.Diff(coldstart.KubernetesPhases(), got); diff != "" {
		t.Errorf("trace summary phases (-want +got):\n%s", diff)
	}
	eps, _ := ColdStartEpisodes([]*Trace{tr}, ColdStartFilter{})
	if len(eps) != 1 {
		t.Fatalf("%d episodes, want 1", len(eps))
	}
	got = got[:0]
	for _, p := range eps[0].Phases {
		got = append(got, p.Name)
	}
	if diff := cmp.Diff(coldstart.KubernetesPhases(), got); diff != "" {
		t.Errorf("episode phases (-want +got):\n%s", diff)
	}
}
