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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/kntrace/kntrace/coldstart"
)

// row is a phase as the tests compare it: name, milliseconds after t0,
// source, whether its end has evidence, image present.
type row struct {
	Name       string
	Start, End int
	Source     string
	Evidence   bool
	Present    bool
}

func rows(ps []Phase) []row {
	out := make([]row, len(ps))
	for i, p := range ps {
		out[i] = row{p.Name, int(p.Start.Sub(t0) / time.Millisecond), int(p.End.Sub(t0) / time.Millisecond), p.Source, p.Evidence.IsValid(), p.ImagePresent}
	}
	return out
}

func indexed(rss ...[]*tracepb.ResourceSpans) *Index {
	x := NewIndex()
	x.now = func() time.Time { return t0 }
	for _, rs := range rss {
		x.Add(rs)
	}
	return x
}

func phasesOf(t *testing.T, x *Index, r coldstart.Report) ([]Phase, error) {
	t.Helper()
	pod, _ := x.Pod(r.Namespace, r.Pod)
	return Phases(r, pod, x.APIRequests(r.Namespace))
}

func TestPhases(t *testing.T) {
	const (
		api = coldstart.PhaseSourceAPIServer
		kub = coldstart.PhaseSourceKubelet
		qp  = coldstart.PhaseSourceQueueProxy
		act = coldstart.PhaseSourceActivator
	)
	// present is the fixture's cold start with the image on the node; a
	// case lists only the rows it changes.
	present := []row{
		{coldstart.PhaseScaleUp, 0, 180, api, true, false},
		{coldstart.PhaseScheduling, 180, 200, api, true, false},
		{coldstart.PhaseSandbox, 200, 450, kub, true, false},
		{coldstart.PhaseImage, 450, 450, kub, false, true},
		{coldstart.PhaseContainers, 450, 690, kub, true, false},
		{coldstart.PhaseAppInit, 690, 1300, qp, false, false},
		{coldstart.PhaseReadiness, 1300, 1400, api, true, false},
		{coldstart.PhaseEndpoints, 1400, 1450, act, false, false},
		{coldstart.PhaseProxy, 1450, 1470, act, false, false},
	}
	tests := []struct {
		name    string
		pull    int
		report  func(*coldstart.Report)
		api     func([]*tracepb.ResourceSpans)
		changed []row
	}{{
		name: "image present",
	}, {
		name: "image pulled: its time is the pull's, the containers' the rest",
		pull: 120,
		report: func(r *coldstart.Report) {
			r.AppReady, r.Handoff, r.FirstByte = ms(1420), ms(1570), ms(1590)
		},
		changed: []row{
			{coldstart.PhaseImage, 450, 570, kub, true, false},
			{coldstart.PhaseContainers, 570, 810, kub, true, false},
			{coldstart.PhaseAppInit, 810, 1420, qp, false, false},
			{coldstart.PhaseReadiness, 1420, 1520, api, true, false},
			{coldstart.PhaseEndpoints, 1520, 1570, act, false, false},
			{coldstart.PhaseProxy, 1570, 1590, act, false, false},
		},
	}, {
		name: "the creation answered after the binding started (the scheduler saw the stored pod first)",
		api: func(rss []*tracepb.ResourceSpans) {
			for _, s := range rss[2].ScopeSpans[0].Spans {
				if s.Name == "POST /api/v1/namespaces/"+fixNS+"/pods" {
					s.EndTimeUnixNano = uint64(ms(195).UnixNano())
				}
			}
		},
		changed: []row{
			{coldstart.PhaseScaleUp, 0, 195, api, true, false},
			{coldstart.PhaseScheduling, 195, 200, api, true, false},
		},
	}, {
		name: "the activator routed before the API server recorded the pod ready (it probes pods itself): readiness ends at the hand-off",
		report: func(r *coldstart.Report) {
			r.Handoff, r.FirstByte = ms(1350), ms(1370) // the status update ends at 1400
		},
		changed: []row{
			{coldstart.PhaseReadiness, 1300, 1350, act, false, false},
			{coldstart.PhaseEndpoints, 1350, 1350, act, false, false},
			{coldstart.PhaseProxy, 1350, 1370, act, false, false},
		},
	}, {
		name: "a boundary before the previous one makes an empty phase, never a negative one",
		report: func(r *coldstart.Report) {
			r.AppReady = ms(650) // the queue-proxy's clock behind the kubelet's
		},
		changed: []row{
			{coldstart.PhaseAppInit, 690, 690, qp, false, false},
			{coldstart.PhaseReadiness, 690, 720, api, true, false},
			{coldstart.PhaseEndpoints, 720, 1450, act, false, false},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fixReport()
			if tt.report != nil {
				tt.report(&r)
			}
			fix := fixture(tt.pull)
			if tt.api != nil {
				tt.api(fix)
			}
			got, err := phasesOf(t, indexed(fix), r)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(present)
			for _, c := range tt.changed {
				want[slices.IndexFunc(want, func(r row) bool { return r.Name == c.Name })] = c
			}
			if diff := cmp.Diff(want, rows(got)); diff != "" {
				t.Errorf("phases (-want +got):\n%s", diff)
			}
			if total := got[len(got)-1].End.Sub(got[0].Start); total != r.FirstByte.Sub(r.Arrival) {
				t.Errorf("phases cover %s, want the whole wait %s", total, r.FirstByte.Sub(r.Arrival))
			}
		})
	}
}

// TestPhasesNameWhatIsMissing: each record missing gives an error naming
// it, so a report waits for it (and the log says what never came).
func TestPhasesNameWhatIsMissing(t *testing.T) {
	// drop removes the service's spans whose name starts with name (is
	// name, when exact).
	drop := func(service, name string, exact bool) []*tracepb.ResourceSpans {
		rss := fixture(0)
		for _, rs := range rss {
			if rs.GetResource().GetAttributes()[0].GetValue().GetStringValue() != service {
				continue
			}
			ss := rs.ScopeSpans[0]
			kept := ss.Spans[:0]
			for _, s := range ss.Spans {
				if s.Name != name && (exact || !strings.HasPrefix(s.Name, name)) {
					kept = append(kept, s)
				}
			}
			ss.Spans = kept
		}
		return rss
	}
	tests := []struct {
		name, service, span string
		exact               bool
		want                string
	}{
		{"binding", serviceAPIServer, "POST /api/v1/namespaces/demo/pods/", false, "POST pods/" + fixPod + "/binding"},
		{"creation", serviceAPIServer, "POST /api/v1/namespaces/demo/pods", true, "(POST pods)"},
		{"sandbox", serviceKubelet, criRunPodSandbox, true, criRunPodSandbox},
		{"containers", serviceKubelet, criStartContainer, true, criStartContainer},
		{"status", serviceAPIServer, "PATCH", false, "PATCH pods/" + fixPod + "/status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := phasesOf(t, indexed(drop(tt.service, tt.span, tt.exact)), fixReport())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestParseAPIPath(t *testing.T) {
	tests := []struct {
		path               string
		ns, resource, name string
		ok                 bool
	}{
		{"/api/v1/namespaces/demo/pods", "demo", "pods", "", true},
		{"/api/v1/namespaces/demo/pods/p1/binding", "demo", "pods/binding", "p1", true},
		{"/api/v1/namespaces/demo/pods/p1/status?fieldManager=x", "demo", "pods/status", "p1", true},
		{"/apis/apps/v1/namespaces/demo/deployments/d/scale", "demo", "deployments/scale", "d", true},
		{"/api/v1/pods", "", "", "", false},
		{"/api/v1/namespaces/demo", "", "", "", false},
		{"/api/v1/namespaces//pods", "", "", "", false},
		{"/api/v1/namespaces/demo/pods/p1/status/extra", "", "", "", false},
		{"/healthz", "", "", "", false},
		{"", "", "", "", false},
	}
	for _, tt := range tests {
		ns, res, name, ok := parseAPIPath(tt.path)
		if diff := cmp.Diff([]any{tt.ns, tt.resource, tt.name, tt.ok}, []any{ns, res, name, ok}); diff != "" {
			t.Errorf("parseAPIPath(%q) (-want +got):\n%s", tt.path, diff)
		}
	}
}
