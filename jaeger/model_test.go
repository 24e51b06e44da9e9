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
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	model "github.com/jaegertracing/jaeger-idl/model/v1"
)

type row struct {
	ID     string
	Parent string
	Depth  int
	Op     string
}

func rows(t *Trace) []row {
	var out []row
	for _, s := range t.Spans {
		out = append(out, row{s.SpanID, s.ParentSpanID, s.Depth, s.OperationName})
	}
	return out
}

func id(n uint64) string { return model.SpanID(n).String() }

func TestBuildColdStartTrace(t *testing.T) {
	tr, err := Build(coldStartTrace())
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{id(0xa1), "", 0, "GET /"},
		{id(0xb1), id(0xa1), 1, "throttler_try"},
		{id(0xb2), id(0xb1), 2, "kntrace.coldstart.pod_start"},
		{id(0xb3), id(0xb1), 2, "kntrace.coldstart.app_init"},
		{id(0xb4), id(0xb1), 2, "kntrace.coldstart.readiness"},
		{id(0xd1), id(0xa1), 1, "activator_proxy"},
		{id(0xe1), id(0xd1), 2, "GET"},
		{id(0xf1), id(0xe1), 3, "GET /"},
		{id(0xf2), id(0xf1), 4, "kn.queueproxy.proxy"},
		{id(0xf3), id(0xf2), 5, "GET /"},
		{id(0xc1), id(0xf3), 6, "kntrace.coldstart.app"},
		{id(0xc2), id(0xc1), 7, "kntrace.coldstart.app.init"},
		{id(0xc3), id(0xc1), 7, "kntrace.coldstart.app.wait"},
		{id(0x11), id(0xf3), 6, "SELECT orders"},
	}
	if diff := cmp.Diff(want, rows(tr)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if got, want := tr.TraceID, "4bf92f3577b34da6a3ce929d0e0e4736"; got != want {
		t.Errorf("TraceID = %s, want %s", got, want)
	}
	if tr.DurationMicros != 1520000 || !tr.StartTime.Equal(fixtureStart) || tr.SpanCount != 14 {
		t.Errorf("trace = start %v, %dµs, %d spans; want %v, 1520000µs, 14", tr.StartTime, tr.DurationMicros, tr.SpanCount, fixtureStart)
	}
	if diff := cmp.Diff([]string{"activator", "hello"}, tr.Services); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	if tr.RootService != "activator" || tr.RootOperation != "GET /" {
		t.Errorf("root = %s %s, want activator GET /", tr.RootService, tr.RootOperation)
	}
	if tr.Errors != 1 {
		t.Errorf("Errors = %d, want 1", tr.Errors)
	}
	db := tr.Span(id(0x11))
	if !db.Error || db.ErrorMessage != "dial tcp 10.0.0.7:5432: connection refused" || db.Kind != "client" {
		t.Errorf("db span = error %v %q kind %q, want the error, its message and kind client", db.Error, db.ErrorMessage, db.Kind)
	}
	// The summary's phases explain the activator's wait: the app's own
	// kntrace.coldstart spans (under the pod's faas.coldstart span) are not its.
	wantCS := &ColdStart{SpanID: id(0xa1), Service: "activator", Operation: "GET /", WaitMicros: 1520000, Phases: []Phase{
		{Name: "pod_start", SpanID: id(0xb2), Service: "activator", OperationName: "kntrace.coldstart.pod_start", OffsetMicros: 2000, DurationMicros: 698000},
		{Name: "app_init", SpanID: id(0xb3), Service: "activator", OperationName: "kntrace.coldstart.app_init", OffsetMicros: 700000, DurationMicros: 400000},
		{Name: "readiness", SpanID: id(0xb4), Service: "activator", OperationName: "kntrace.coldstart.readiness", OffsetMicros: 1100000, DurationMicros: 148000},
	}}
	if diff := cmp.Diff(wantCS, tr.ColdStart); diff != "" {
		t.Errorf("cold start (-want +got):\n%s", diff)
	}
	if len(tr.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none", tr.Warnings)
	}
	if tr.Span(id(0xf3)).ProcessTags["k8s.container.name"] != "user-container" {
		t.Errorf("process tags of the app span = %v", tr.Span(id(0xf3)).ProcessTags)
	}
}

func TestColdStartWaitRule(t *testing.T) {
	act := process("activator", "activator", "knative-serving")
	qp := process("hello", "queue-proxy", "default")
	app := process("hello", "user-container", "default")
	cold := model.Bool(attrColdStart, true)
	tests := []struct {
		name     string
		spans    []*model.Span
		wantSpan string
		wantWait int64
		wantNil  bool
	}{{
		name: "activator wins over queue-proxy and app",
		spans: []*model.Span{
			fixtureSpan(1, 0, app, "client", 0, 100),
			fixtureSpan(2, 1, qp, "GET /", 10, 90, cold),
			fixtureSpan(3, 1, act, "GET /", 5, 95, cold),
			fixtureSpan(4, 2, app, "GET /", 20, 80, cold),
		},
		wantSpan: id(3), wantWait: 90000,
	}, {
		name: "queue-proxy without an activator span",
		spans: []*model.Span{
			fixtureSpan(1, 0, app, "GET /", 0, 100, cold),
			fixtureSpan(2, 1, qp, "GET /", 10, 90, cold),
		},
		wantSpan: id(2), wantWait: 80000,
	}, {
		name: "queue-proxy as Knative v0.50.0 names its container (container.name)",
		spans: []*model.Span{
			fixtureSpan(1, 0, app, "GET /", 0, 100, cold),
			fixtureSpan(2, 1, &model.Process{ServiceName: "hello", Tags: []model.KeyValue{model.String("container.name", "queue-proxy")}}, "GET /", 10, 90, cold),
		},
		wantSpan: id(2), wantWait: 80000,
	}, {
		name: "otherwise the shallowest marked span",
		spans: []*model.Span{
			fixtureSpan(1, 0, app, "client", 0, 100),
			fixtureSpan(2, 1, app, "GET /a", 10, 90, cold),
			fixtureSpan(3, 2, app, "GET /b", 20, 80, cold),
		},
		wantSpan: id(2), wantWait: 80000,
	}, {
		name: "phases alone make a cold start without a wait",
		spans: []*model.Span{
			fixtureSpan(1, 0, app, "GET /", 0, 100),
			fixtureSpan(2, 1, app, "kntrace.coldstart", 0, 50),
		},
		wantSpan: "", wantWait: 0,
	}, {
		name: "faas.coldstart=false and a look-alike name are not a cold start",
		spans: []*model.Span{
			fixtureSpan(1, 0, app, "GET /", 0, 100, model.Bool(attrColdStart, false)),
			fixtureSpan(2, 1, app, "kntrace.coldstartish", 0, 50),
		},
		wantNil: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Build(&model.Trace{Spans: tc.spans})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantNil {
				if tr.ColdStart != nil {
					t.Fatalf("ColdStart = %+v, want none", tr.ColdStart)
				}
				return
			}
			if tr.ColdStart == nil {
				t.Fatal("ColdStart = nil, want one")
			}
			if tr.ColdStart.SpanID != tc.wantSpan || tr.ColdStart.WaitMicros != tc.wantWait {
				t.Errorf("wait = span %q %dµs, want %q %dµs", tr.ColdStart.SpanID, tr.ColdStart.WaitMicros, tc.wantSpan, tc.wantWait)
			}
		})
	}
}

// TestColdStartPhasesStartingTogether: on the real cluster an image already
// on the node is a zero-length image phase that starts with the containers'
// phase; the summary and the tree list them in the order they happen,
// whichever order Jaeger returns the spans in.
func TestColdStartPhasesStartingTogether(t *testing.T) {
	act := process("activator", "activator", "knative-serving")
	for _, order := range []string{"containers first", "image first"} {
		t.Run(order, func(t *testing.T) {
			spans := []*model.Span{
				fixtureSpan(1, 0, act, "GET /", 0, 100, model.Bool(attrColdStart, true)),
				fixtureSpan(2, 1, act, "kntrace.coldstart.sandbox", 0, 10, phase("sandbox")),
				fixtureSpan(3, 1, act, "kntrace.coldstart.containers", 10, 40, phase("containers")),
				fixtureSpan(4, 1, act, "kntrace.coldstart.image", 10, 10, phase("image")),
			}
			if order == "image first" {
				spans[2], spans[3] = spans[3], spans[2]
			}
			tr, err := Build(&model.Trace{Spans: spans})
			if err != nil {
				t.Fatal(err)
			}
			if tr.ColdStart == nil {
				t.Fatal("no cold start")
			}
			var got []string
			for _, p := range tr.ColdStart.Phases {
				got = append(got, p.Name)
			}
			if diff := cmp.Diff([]string{"sandbox", "image", "containers"}, got); diff != "" {
				t.Errorf("phases (-want +got):\n%s", diff)
			}
			// The waterfall's rows too.
			wantRows := []row{
				{id(1), "", 0, "GET /"},
				{id(2), id(1), 1, "kntrace.coldstart.sandbox"},
				{id(4), id(1), 1, "kntrace.coldstart.image"},
				{id(3), id(1), 1, "kntrace.coldstart.containers"},
			}
			if diff := cmp.Diff(wantRows, rows(tr)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorsRecognised(t *testing.T) {
	p := process("svc", "user-container", "default")
	tests := []struct {
		name    string
		tags    []model.KeyValue
		logs    []model.Log
		want    bool
		wantMsg string
	}{
		{name: "error tag true", tags: []model.KeyValue{model.Bool("error", true)}, want: true},
		{name: "error tag string", tags: []model.KeyValue{model.String("error", "true")}, want: true},
		{name: "error tag false", tags: []model.KeyValue{model.Bool("error", false)}},
		{name: "otel status ERROR with description", tags: []model.KeyValue{model.String("otel.status_code", "ERROR"), model.String("otel.status_description", "boom")}, want: true, wantMsg: "boom"},
		{name: "otel status OK", tags: []model.KeyValue{model.String("otel.status_code", "OK")}},
		{
			name: "message from an exception event", tags: []model.KeyValue{model.Bool("error", true)},
			logs: []model.Log{{Fields: []model.KeyValue{model.String("event", "exception"), model.String("exception.message", "nil pointer")}}},
			want: true, wantMsg: "nil pointer",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := fixtureSpan(1, 0, p, "op", 0, 1, tc.tags...)
			s.Logs = tc.logs
			tr, err := Build(&model.Trace{Spans: []*model.Span{s}})
			if err != nil {
				t.Fatal(err)
			}
			got := tr.Spans[0]
			if got.Error != tc.want || got.ErrorMessage != tc.wantMsg || (tr.Errors == 1) != tc.want {
				t.Errorf("error = %v %q (trace errors %d), want %v %q", got.Error, got.ErrorMessage, tr.Errors, tc.want, tc.wantMsg)
			}
		})
	}
}

func TestBuildOddTrees(t *testing.T) {
	p := process("svc", "user-container", "default")
	tests := []struct {
		name         string
		spans        []*model.Span
		want         []row
		wantWarnings []string
		wantOrphans  []string
	}{{
		name: "orphan drawn under the root",
		spans: []*model.Span{
			fixtureSpan(1, 0, p, "root", 0, 100),
			fixtureSpan(2, 99, p, "orphan", 10, 20),
			fixtureSpan(3, 1, p, "child", 5, 50),
		},
		want:         []row{{id(1), "", 0, "root"}, {id(3), id(1), 1, "child"}, {id(2), id(99), 1, "orphan"}},
		wantWarnings: []string{"span " + id(2) + ": parent " + id(99) + " is not in the trace"},
		wantOrphans:  []string{id(2)},
	}, {
		name: "no span without a parent: the earliest is the root",
		spans: []*model.Span{
			fixtureSpan(2, 98, p, "late", 10, 20),
			fixtureSpan(1, 99, p, "early", 0, 100),
		},
		want:         []row{{id(1), id(99), 0, "early"}, {id(2), id(98), 1, "late"}},
		wantWarnings: []string{"span " + id(2) + ": parent " + id(98)},
		wantOrphans:  []string{id(2)},
	}, {
		name: "second root drawn under the first",
		spans: []*model.Span{
			fixtureSpan(2, 0, p, "b", 10, 20),
			fixtureSpan(1, 0, p, "a", 0, 100),
		},
		want:        []row{{id(1), "", 0, "a"}, {id(2), "", 1, "b"}},
		wantOrphans: []string{id(2)},
	}, {
		name: "duplicate span ID keeps the first",
		spans: []*model.Span{
			fixtureSpan(1, 0, p, "a", 0, 100),
			fixtureSpan(2, 1, p, "b", 10, 20),
			fixtureSpan(2, 1, p, "b again", 30, 40),
		},
		want:         []row{{id(1), "", 0, "a"}, {id(2), id(1), 1, "b"}},
		wantWarnings: []string{"span ID " + id(2) + " appears more than once"},
	}, {
		name: "reference cycle broken under the root",
		spans: []*model.Span{
			fixtureSpan(1, 0, p, "root", 0, 100),
			fixtureSpan(2, 3, p, "x", 10, 20),
			fixtureSpan(3, 2, p, "y", 30, 40),
		},
		want:         []row{{id(1), "", 0, "root"}, {id(2), id(3), 1, "x"}, {id(3), id(2), 2, "y"}},
		wantWarnings: []string{"span " + id(2) + ": its references form a cycle"},
		wantOrphans:  []string{id(2)},
	}, {
		name: "follows-from used without child-of; other traces' references ignored",
		spans: []*model.Span{
			fixtureSpan(1, 0, p, "a", 0, 100),
			func() *model.Span {
				s := fixtureSpan(2, 0, p, "b", 10, 20)
				s.References = []model.SpanRef{
					{TraceID: model.TraceID{Low: 7}, SpanID: 5, RefType: model.SpanRefType_CHILD_OF},
					{TraceID: fixtureTraceID, SpanID: 1, RefType: model.SpanRefType_FOLLOWS_FROM},
				}
				return s
			}(),
		},
		want: []row{{id(1), "", 0, "a"}, {id(2), id(1), 1, "b"}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Build(&model.Trace{Spans: tc.spans})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, rows(tr)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			if len(tr.Warnings) != len(tc.wantWarnings) {
				t.Fatalf("warnings = %q, want %d starting %q", tr.Warnings, len(tc.wantWarnings), tc.wantWarnings)
			}
			for i, w := range tc.wantWarnings {
				if !strings.HasPrefix(tr.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to start with %q", i, tr.Warnings[i], w)
				}
			}
			var orphans []string
			for _, s := range tr.Spans {
				if s.Orphan {
					orphans = append(orphans, s.SpanID)
				}
			}
			if diff := cmp.Diff(tc.wantOrphans, orphans); diff != "" {
				t.Errorf("orphans (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCriticalPath(t *testing.T) {
	p := process("svc", "user-container", "default")
	// root 0-100: a 0-30, b 10-60 (overlaps a), c 40-55 (inside b's time),
	// d 70-95 with child d1 72-80; e 96-99.
	spans := []*model.Span{
		fixtureSpan(1, 0, p, "root", 0, 100),
		fixtureSpan(2, 1, p, "a", 0, 30),
		fixtureSpan(3, 1, p, "b", 10, 60),
		fixtureSpan(4, 1, p, "c", 40, 55),
		fixtureSpan(5, 1, p, "d", 70, 95),
		fixtureSpan(6, 5, p, "d1", 72, 80),
		fixtureSpan(7, 1, p, "e", 96, 99),
	}
	tr, err := Build(&model.Trace{Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	// e ends last; then d (ends 95 < 96) and its child d1; then b (ends 60
	// < 70); c starts after b's start so it is skipped; a starts before b
	// starts (10) and is on the path clipped to 10.
	want := []string{id(1), id(7), id(5), id(6), id(3), id(2)}
	if diff := cmp.Diff(want, tr.CriticalPath); diff != "" {
		t.Errorf("critical path (-want +got):\n%s", diff)
	}
	if tr.Span(id(4)).Critical || !tr.Span(id(2)).Critical {
		t.Error("Critical flags do not match CriticalPath")
	}
}

func TestBuildEmpty(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   *model.Trace
	}{{"nil", nil}, {"no spans", &model.Trace{}}, {"nil span", &model.Trace{Spans: []*model.Span{nil}}}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Build(tc.in); !errors.Is(err, ErrEmptyTrace) {
				t.Errorf("Build() error = %v, want ErrEmptyTrace", err)
			}
		})
	}
}

func TestParseTraceID(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "32 hex", in: "4bf92f3577b34da6a3ce929d0e0e4736", want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "upper case and spaces", in: "  4BF92F3577B34DA6A3CE929D0E0E4736\n", want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "16 hex", in: "a3ce929d0e0e4736", want: "a3ce929d0e0e4736"},
		{name: "leading zeros dropped", in: "00000000000000000000000000000abc", want: "0000000000000abc"},
		{name: "short", in: "abc", want: "0000000000000abc"},
		{name: "0x prefix", in: "0x4bf92f3577b34da6a3ce929d0e0e4736", want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "traceparent", in: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", want: "4bf92f3577b34da6a3ce929d0e0e4736"},
		{name: "empty", in: " ", wantErr: "want 1 to 32 hex digits"},
		{name: "too long", in: strings.Repeat("a", 33), wantErr: "want 1 to 32 hex digits"},
		{name: "not hex", in: "4bf92f3577b34da6a3ce929d0e0e473g", wantErr: `'g' is not a hex digit`},
		{name: "sign", in: "+123", wantErr: "not a hex digit"},
		{name: "all zero", in: "00000000000000000000000000000000", wantErr: "all-zero"},
		{name: "bad traceparent", in: "00-4bf92f35-00f067aa0ba902b7-01", wantErr: "looks like a traceparent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTraceID(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseTraceID(%q) = %v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("ParseTraceID(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzParseTraceID(f *testing.F) {
	for _, s := range []string{"4bf92f3577b34da6a3ce929d0e0e4736", "0x1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", "-", "---", "zz", " 1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseTraceID(s)
		if err != nil {
			if !strings.Contains(err.Error(), "trace ID") {
				t.Fatalf("error %q does not name the trace ID", err)
			}
			return
		}
		if id.High == 0 && id.Low == 0 {
			t.Fatalf("ParseTraceID(%q) accepted the zero ID", s)
		}
		again, err := ParseTraceID(id.String())
		if err != nil || again != id {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, id, again, err)
		}
	})
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0µs"}, {850 * time.Microsecond, "850µs"}, {4250 * time.Microsecond, "4.25ms"}, {ms(5), "5ms"},
		{ms(12.34), "12.3ms"}, {ms(120.4), "120ms"}, {ms(1520), "1.52s"}, {2 * time.Second, "2s"},
		{125 * time.Second, "2m5s"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.in), func(t *testing.T) {
			if got := FormatDuration(tc.in); got != tc.want {
				t.Errorf("FormatDuration(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
