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

package queueproxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	netheader "knative.dev/networking/pkg/http/header"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/queueproxy"
)

const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

var alwaysParent = sdktrace.ParentBased(sdktrace.AlwaysSample())

// TestB3OnlyRequest: kntrace continues the caller's B3 trace and hands the
// app a W3C traceparent in it; upstream reads only W3C and starts a new
// trace.
func TestB3OnlyRequest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		kntrace   bool
		header    map[string]string
		wantTrace bool // the server span continues callerTrace
	}{
		{name: "kntrace b3 single", kntrace: true, header: map[string]string{"b3": callerTrace + "-" + callerSpan + "-1"}, wantTrace: true},
		{name: "kntrace b3 multi", kntrace: true, header: map[string]string{"X-B3-TraceId": callerTrace, "X-B3-SpanId": callerSpan, "X-B3-Sampled": "1"}, wantTrace: true},
		{name: "kntrace jaeger", kntrace: true, header: map[string]string{"uber-trace-id": callerTrace + ":" + callerSpan + ":0:1"}, wantTrace: true},
		{name: "upstream b3 single", header: map[string]string{"b3": callerTrace + "-" + callerSpan + "-1"}},
		{name: "upstream b3 multi", header: map[string]string{"X-B3-TraceId": callerTrace, "X-B3-SpanId": callerSpan, "X-B3-Sampled": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t)
			s := newSide(t, tc.kntrace, 0, a, alwaysParent)
			resp := s.do(t, tc.header)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			spans := s.exp.GetSpans()
			server := serverSpan(t, spans)
			if got := server.SpanContext.TraceID().String() == callerTrace; got != tc.wantTrace {
				t.Errorf("server span trace %s continues the caller's %s: %v, want %v", server.SpanContext.TraceID(), callerTrace, got, tc.wantTrace)
			}
			if tc.wantTrace && server.Parent.SpanID().String() != callerSpan {
				t.Errorf("server span parent %s, want the caller's span %s", server.Parent.SpanID(), callerSpan)
			}
			hs := a.headers()
			if len(hs) != 1 {
				t.Fatalf("app saw %d requests, want 1", len(hs))
			}
			tp := hs[0].Get("traceparent")
			if got := strings.Contains(tp, callerTrace); got != tc.wantTrace {
				t.Errorf("app's traceparent %q carries the caller's trace: %v, want %v", tp, got, tc.wantTrace)
			}
			if !strings.Contains(tp, server.SpanContext.TraceID().String()) {
				t.Errorf("app's traceparent %q is not in the server span's trace %s", tp, server.SpanContext.TraceID())
			}
		})
	}
}

func serverSpan(t testing.TB, spans tracetest.SpanStubs) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindServer {
			return s
		}
	}
	t.Fatalf("no server span among %d spans", len(spans))
	return tracetest.SpanStub{}
}

func clientSpan(t testing.TB, spans tracetest.SpanStubs) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindClient {
			return s
		}
	}
	t.Fatalf("no client span among %d spans", len(spans))
	return tracetest.SpanStub{}
}

// TestParenting: the call to the app is a child of kn.queueproxy.proxy with
// kntrace; upstream parents it under kn.queueproxy.wait, which has ended
// before the call starts.
func TestParenting(t *testing.T) {
	for _, tc := range []struct {
		name       string
		kntrace    bool
		cc         int
		wantParent string
	}{
		{name: "kntrace cc=1", kntrace: true, cc: 1, wantParent: queueproxy.SpanProxy},
		{name: "kntrace cc=0", kntrace: true, cc: 0, wantParent: queueproxy.SpanProxy},
		{name: "upstream cc=1", cc: 1, wantParent: queueproxy.SpanWait},
		{name: "upstream cc=0", cc: 0, wantParent: queueproxy.SpanProxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t)
			s := newSide(t, tc.kntrace, tc.cc, a, alwaysParent)
			if resp := s.do(t, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			spans := s.exp.GetSpans()
			names := byName(spans)
			client := clientSpan(t, spans)
			parent, ok := names[tc.wantParent]
			if !ok {
				t.Fatalf("no %s span; spans: %v", tc.wantParent, spanNames(spans))
			}
			if client.Parent.SpanID() != parent.SpanContext.SpanID() {
				t.Errorf("client span's parent is %s, want %s (%s)", nameOf(spans, client.Parent.SpanID()), tc.wantParent, parent.SpanContext.SpanID())
			}
			if !parent.EndTime.After(client.EndTime) && tc.wantParent == queueproxy.SpanProxy {
				t.Errorf("parent %s ended at %v, before its child ended at %v", tc.wantParent, parent.EndTime, client.EndTime)
			}
			if tc.wantParent == queueproxy.SpanWait && parent.EndTime.After(client.StartTime) {
				t.Errorf("upstream's wait span ended at %v, after the client span started at %v: the upstream fact no longer holds", parent.EndTime, client.StartTime)
			}
			if proxy, server := names[queueproxy.SpanProxy], serverSpan(t, spans); proxy.Parent.SpanID() != server.SpanContext.SpanID() {
				t.Errorf("%s's parent is %s, want the server span", queueproxy.SpanProxy, nameOf(spans, proxy.Parent.SpanID()))
			}
		})
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

func nameOf(spans tracetest.SpanStubs, id trace.SpanID) string {
	for _, s := range spans {
		if s.SpanContext.SpanID() == id {
			return s.Name
		}
	}
	return id.String()
}

// TestSpanNames: kntrace names the server span after method and revision,
// the client span after the call to the app.
func TestSpanNames(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kntrace bool
		method  string
		want    []string // server, client
	}{
		{name: "kntrace GET", kntrace: true, method: http.MethodGet, want: []string{"GET " + revision, "GET " + revision + " app"}},
		{name: "kntrace POST", kntrace: true, method: http.MethodPost, want: []string{"POST " + revision, "POST " + revision + " app"}},
		{name: "kntrace unknown method", kntrace: true, method: "PURGE", want: []string{"HTTP " + revision, "HTTP " + revision + " app"}},
		{name: "upstream GET", method: http.MethodGet, want: []string{"GET", "HTTP GET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t)
			s := newSide(t, tc.kntrace, 0, a, alwaysParent)
			req, _ := http.NewRequest(tc.method, "http://hello.demo.svc/", nil)
			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, req)
			spans := s.exp.GetSpans()
			got := []string{serverSpan(t, spans).Name, clientSpan(t, spans).Name}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("span names (-want +got):\n%s", diff)
			}
		})
	}
}

// TestColdStart: the first request (probes aside) carries the timeline
// header and a kntrace.coldstart span under its server span; later ones
// carry neither. With container concurrency the handler finds the spans
// from the ended wait span, without it from the proxy span itself.
func TestColdStart(t *testing.T) {
	for _, cc := range []int{1, 0} {
		t.Run(fmt.Sprintf("cc=%d", cc), func(t *testing.T) {
			a := newApp(t)
			s := newSide(t, true, cc, a, alwaysParent)

			probe := s.do(t, map[string]string{netheader.ProbeKey: "queue"})
			if v := probe.Header.Get(coldstart.Header); v != "" {
				t.Errorf("probe response has %s %q, want none", coldstart.Header, v)
			}
			first := s.do(t, map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"})
			v := first.Header.Get(coldstart.Header)
			st, err := coldstart.ParseHeader(v)
			if err != nil {
				t.Fatalf("first response %s %q: %v", coldstart.Header, v, err)
			}
			wantReady, _ := s.timeline.Ready()
			if !st.Start.Equal(s.timeline.Start()) || !st.Ready.Equal(wantReady) {
				t.Errorf("timeline header start=%v ready=%v, want %v %v", st.Start, st.Ready, s.timeline.Start(), wantReady)
			}
			spans := s.exp.GetSpans()
			names := byName(spans)
			cs, ok := names[coldstart.SourceQueueProxy.SpanName()]
			if !ok {
				t.Fatalf("no %s span after the first request; spans: %v", coldstart.SourceQueueProxy.SpanName(), spanNames(spans))
			}
			server := serverSpan(t, spans)
			if cs.Parent.SpanID() != server.SpanContext.SpanID() || cs.SpanContext.TraceID().String() != callerTrace {
				t.Errorf("%s parent %s in trace %s, want the server span in the caller's trace", coldstart.SourceQueueProxy.SpanName(), nameOf(spans, cs.Parent.SpanID()), cs.SpanContext.TraceID())
			}
			if !cs.StartTime.Equal(s.timeline.Start()) {
				t.Errorf("%s starts at %v, want the process start %v", coldstart.SourceQueueProxy.SpanName(), cs.StartTime, s.timeline.Start())
			}
			if got := attr(server.Attributes, "faas.coldstart"); got != attribute.BoolValue(true) {
				t.Errorf("server span faas.coldstart = %v, want true", got.Emit())
			}
			for _, n := range []string{coldstart.SourceQueueProxy.InitSpanName(), coldstart.SourceQueueProxy.WaitSpanName()} {
				if _, ok := names[n]; !ok {
					t.Errorf("no %s span", n)
				}
			}
			s.exp.Reset()
			second := s.do(t, nil)
			if v := second.Header.Get(coldstart.Header); v != "" {
				t.Errorf("second response has %s %q, want none", coldstart.Header, v)
			}
			if _, ok := byName(s.exp.GetSpans())[coldstart.SourceQueueProxy.SpanName()]; ok {
				t.Errorf("second request has a %s span", coldstart.SourceQueueProxy.SpanName())
			}

		})
	}
}

func attr(kvs []attribute.KeyValue, key attribute.Key) attribute.Value {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestNotSampled: with nothing sampled no span is recorded, the request
// still goes through and the first response still tells the activator.
func TestNotSampled(t *testing.T) {
	a := newApp(t)
	s := newSide(t, true, 1, a, sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)))
	resp := s.do(t, map[string]string{"b3": callerTrace + "-" + callerSpan + "-0"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if resp.Header.Get(coldstart.Header) == "" {
		t.Errorf("first response has no %s", coldstart.Header)
	}
	if n := len(s.exp.GetSpans()); n != 0 {
		t.Errorf("%d spans recorded, want 0", n)
	}
	if tp := a.headers()[0].Get("traceparent"); !strings.HasPrefix(tp, "00-"+callerTrace+"-") || !strings.HasSuffix(tp, "-00") {
		t.Errorf("app's traceparent %q, want the caller's trace, not sampled", tp)
	}
}

// TestMalformedHeaders: a malformed trace header costs the trace, never
// the request.
func TestMalformedHeaders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
	}{
		{name: "traceparent garbage", header: map[string]string{"traceparent": "00-zz-yy-01"}},
		{name: "traceparent zero ids", header: map[string]string{"traceparent": "00-00000000000000000000000000000000-0000000000000000-01"}},
		{name: "b3 truncated", header: map[string]string{"b3": callerTrace + "-"}},
		{name: "b3 multi bad", header: map[string]string{"X-B3-TraceId": "xyz", "X-B3-SpanId": "1"}},
		{name: "jaeger garbage", header: map[string]string{"uber-trace-id": ":::"}},
		{name: "huge tracestate", header: map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01", "tracestate": strings.Repeat("a=b,", 5000)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t)
			s := newSide(t, true, 1, a, alwaysParent)
			resp := s.do(t, tc.header)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Errorf("status %d body %q, want 200 ok", resp.StatusCode, body)
			}
		})
	}
}
