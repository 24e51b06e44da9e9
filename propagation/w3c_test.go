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

package propagation_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

// The requirements of the W3C trace-context validation suite (test/test.py
// in the w3c/trace-context repository), restated as Go cases. Each row is
// one test of the suite, named after it, with every request that test
// sends. A request goes through net/http's request parser, as a service
// receives it, then through a hop: Extract, a server span under the
// OpenTelemetry SDK (parent-based, always on), and one
// client span and Inject per call the suite asks the service to make.
// What the suite asserts about the calls' headers is asserted here, more
// strictly where kntrace's output is deterministic (the exact tracestate).

const (
	suiteTraceID = "12345678901234567890123456789012"
	suiteSpanID  = "1234567890123456"
	zeroTraceID  = "00000000000000000000000000000000"
)

// tp returns a traceparent with the suite's IDs.
func tp(version, flags string) string {
	return version + "-" + suiteTraceID + "-" + suiteSpanID + "-" + flags
}

// suiteRequest is one request a suite test sends and what the calls the
// service makes must carry.
type suiteRequest struct {
	// headers are the header lines the suite sends, name then value, in
	// order.
	headers []string
	// continues is true when the calls must continue the suite's trace
	// (suiteTraceID); otherwise they must carry a new trace.
	continues bool
	// tracestate is what the calls' tracestate must be ("" for none).
	tracestate string
	// flags, when set, are the trace-flags the calls must carry.
	flags string
	// calls is the number of calls the service makes (1 when zero).
	calls int
}

func TestW3CValidationSuite(t *testing.T) {
	allowedKey := "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
	allowedValue := func() string {
		var b strings.Builder
		for c := byte(0x20); c <= 0x7e; c++ {
			if c != ',' && c != '=' {
				b.WriteByte(c)
			}
		}
		return b.String()
	}()
	members := func(from, to int) string {
		var m []string
		for i := from; i <= to; i++ {
			m = append(m, fmt.Sprintf("bar%02d=%02d", i, i))
		}
		return strings.Join(m, ",")
	}
	withFoo := func(key string) suiteRequest {
		return suiteRequest{headers: []string{"traceparent", tp("00", "00"), "tracestate", "foo=1", "tracestate", key + "=1"},
			continues: true, tracestate: "foo=1," + key + "=1"}
	}
	state := func(ts ...string) []string {
		h := []string{"traceparent", tp("00", "00")}
		for _, v := range ts {
			h = append(h, "tracestate", v)
		}
		return h
	}
	tests := []struct {
		name     string // the suite's test
		requests []suiteRequest
	}{
		// TraceContextTest (Level 1)
		{name: "test_both_traceparent_and_tracestate_missing", requests: []suiteRequest{{}}},
		{name: "test_traceparent_included_tracestate_missing", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", "01")}, continues: true},
		}},
		{name: "test_traceparent_duplicated", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-12345678901234567890123456789011-" + suiteSpanID + "-01", "traceparent", tp("00", "01")}},
		}},
		{name: "test_traceparent_header_name", requests: []suiteRequest{
			{headers: []string{"trace-parent", tp("00", "01")}},
			{headers: []string{"trace.parent", tp("00", "01")}},
		}},
		{name: "test_traceparent_header_name_valid_casing", requests: []suiteRequest{
			{headers: []string{"TraceParent", tp("00", "01")}, continues: true},
			{headers: []string{"TrAcEpArEnT", tp("00", "01")}, continues: true},
			{headers: []string{"TRACEPARENT", tp("00", "01")}, continues: true},
		}},
		{name: "test_traceparent_version_0x00", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", "01.")}},
			{headers: []string{"traceparent", tp("00", "01-what-the-future-will-be-like")}},
		}},
		{name: "test_traceparent_version_0xcc", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("cc", "01")}, continues: true},
			{headers: []string{"traceparent", tp("cc", "01-what-the-future-will-be-like")}, continues: true},
			{headers: []string{"traceparent", tp("cc", "01.what-the-future-will-be-like")}},
		}},
		{name: "test_traceparent_version_0xff", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("ff", "01")}},
		}},
		{name: "test_traceparent_version_illegal_characters", requests: []suiteRequest{
			{headers: []string{"traceparent", tp(".0", "01")}},
			{headers: []string{"traceparent", tp("0.", "01")}},
		}},
		{name: "test_traceparent_version_too_long", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("000", "01")}},
			{headers: []string{"traceparent", tp("0000", "01")}},
		}},
		{name: "test_traceparent_version_too_short", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("0", "01")}},
		}},
		{name: "test_traceparent_trace_id_all_zero", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-" + zeroTraceID + "-" + suiteSpanID + "-01"}},
		}},
		{name: "test_traceparent_trace_id_illegal_characters", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-." + suiteTraceID[1:] + "-" + suiteSpanID + "-01"}},
			{headers: []string{"traceparent", "00-" + suiteTraceID[:31] + ".-" + suiteSpanID + "-01"}},
		}},
		{name: "test_traceparent_trace_id_too_long", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-" + suiteTraceID + "3-" + suiteSpanID + "-01"}},
		}},
		{name: "test_traceparent_trace_id_too_short", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-" + suiteTraceID[:31] + "-" + suiteSpanID + "-01"}},
		}},
		{name: "test_traceparent_parent_id_all_zero", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-" + suiteTraceID + "-0000000000000000-01"}},
		}},
		{name: "test_traceparent_parent_id_illegal_characters", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-" + suiteTraceID + "-." + suiteSpanID[1:] + "-01"}},
			{headers: []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID[:15] + ".-01"}},
		}},
		{name: "test_traceparent_parent_id_too_long", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID + "7-01"}},
		}},
		{name: "test_traceparent_parent_id_too_short", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-" + suiteTraceID + "-" + suiteSpanID[:15] + "-01"}},
		}},
		{name: "test_traceparent_trace_flags_illegal_characters", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", ".0")}},
			{headers: []string{"traceparent", tp("00", "0.")}},
		}},
		{name: "test_traceparent_trace_flags_too_long", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", "001")}},
		}},
		{name: "test_traceparent_trace_flags_too_short", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", "1")}},
		}},
		{name: "test_traceparent_ows_handling", requests: []suiteRequest{
			{headers: []string{"traceparent", " " + tp("00", "01")}, continues: true},
			{headers: []string{"traceparent", "\t" + tp("00", "01")}, continues: true},
			{headers: []string{"traceparent", tp("00", "01") + " "}, continues: true},
			{headers: []string{"traceparent", tp("00", "01") + "\t"}, continues: true},
			{headers: []string{"traceparent", "\t " + tp("00", "01") + " \t"}, continues: true},
		}},
		{name: "test_tracestate_included_traceparent_missing", requests: []suiteRequest{
			{headers: []string{"tracestate", "foo=1"}},
			{headers: []string{"tracestate", "foo=1,bar=2"}},
		}},
		{name: "test_tracestate_included_traceparent_included", requests: []suiteRequest{
			{headers: state("foo=1,bar=2"), continues: true, tracestate: "foo=1,bar=2"},
		}},
		{name: "test_tracestate_header_name", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", "00"), "trace-state", "foo=1"}, continues: true},
			{headers: []string{"traceparent", tp("00", "00"), "trace.state", "foo=1"}, continues: true},
		}},
		{name: "test_tracestate_header_name_valid_casing", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", "00"), "TraceState", "foo=1"}, continues: true, tracestate: "foo=1"},
			{headers: []string{"traceparent", tp("00", "00"), "TrAcEsTaTe", "foo=1"}, continues: true, tracestate: "foo=1"},
			{headers: []string{"traceparent", tp("00", "00"), "TRACESTATE", "foo=1"}, continues: true, tracestate: "foo=1"},
		}},
		{name: "test_tracestate_empty_header", requests: []suiteRequest{
			{headers: state(""), continues: true},
			{headers: state("foo=1", ""), continues: true, tracestate: "foo=1"},
			{headers: state("", "foo=1"), continues: true, tracestate: "foo=1"},
		}},
		{name: "test_tracestate_multiple_headers_different_keys", requests: []suiteRequest{
			{headers: state("foo=1,bar=2", "rojo=1,congo=2", "baz=3"), continues: true, tracestate: "foo=1,bar=2,rojo=1,congo=2,baz=3"},
		}},
		{name: "test_tracestate_duplicated_keys", requests: []suiteRequest{
			{headers: state("foo=1,foo=1"), continues: true, tracestate: "foo=1"},
			{headers: state("foo=1,foo=2"), continues: true, tracestate: "foo=1"},
			{headers: state("foo=1", "foo=1"), continues: true, tracestate: "foo=1"},
			{headers: state("foo=1", "foo=2"), continues: true, tracestate: "foo=1"},
		}},
		{name: "test_tracestate_all_allowed_characters", requests: []suiteRequest{
			{headers: state(allowedKey + "=" + allowedValue), continues: true, tracestate: allowedKey + "=" + allowedValue},
			{headers: state(allowedKey + "@a-z0-9_-*/=" + allowedValue), continues: true, tracestate: allowedKey + "@a-z0-9_-*/=" + allowedValue},
		}},
		{name: "test_tracestate_ows_handling", requests: []suiteRequest{
			{headers: state("foo=1 \t , \t bar=2, \t baz=3"), continues: true, tracestate: "foo=1,bar=2,baz=3"},
			{headers: state("foo=1\t \t,\t \tbar=2,\t \tbaz=3"), continues: true, tracestate: "foo=1,bar=2,baz=3"},
			{headers: state(" foo=1"), continues: true, tracestate: "foo=1"},
			{headers: state("\tfoo=1"), continues: true, tracestate: "foo=1"},
			{headers: state("foo=1 "), continues: true, tracestate: "foo=1"},
			{headers: state("foo=1\t"), continues: true, tracestate: "foo=1"},
			{headers: state("\t foo=1 \t"), continues: true, tracestate: "foo=1"},
		}},
		{name: "test_tracestate_key_illegal_characters", requests: []suiteRequest{
			{headers: state("foo =1"), continues: true},
			{headers: state("FOO=1"), continues: true},
			{headers: state("foo.bar=1"), continues: true},
		}},
		{name: "test_tracestate_key_illegal_vendor_format", requests: []suiteRequest{
			{headers: state("foo@=1,bar=2"), continues: true, tracestate: "foo@=1,bar=2"},
			{headers: state("@foo=1,bar=2"), continues: true},
			{headers: state("foo@@bar=1,bar=2"), continues: true, tracestate: "foo@@bar=1,bar=2"},
			{headers: state("foo@bar@baz=1,bar=2"), continues: true, tracestate: "foo@bar@baz=1,bar=2"},
		}},
		{name: "test_tracestate_member_count_limit", requests: []suiteRequest{
			{headers: state(members(1, 10), members(11, 20), members(21, 30), members(31, 32)), continues: true, tracestate: members(1, 32)},
			{headers: state(members(1, 10), members(11, 20), members(21, 30), members(31, 33)), continues: true},
		}},
		{name: "test_tracestate_key_length_limit", requests: []suiteRequest{
			withFoo(strings.Repeat("z", 256)),
			{headers: state("foo=1", strings.Repeat("z", 257)+"=1"), continues: true},
			withFoo(strings.Repeat("t", 241) + "@" + strings.Repeat("v", 14)),
			withFoo(strings.Repeat("t", 242) + "@v"),
			withFoo("t@" + strings.Repeat("v", 15)),
		}},
		{name: "test_tracestate_value_illegal_characters", requests: []suiteRequest{
			{headers: state("foo=bar=baz"), continues: true},
			{headers: state("foo=,bar=3"), continues: true},
		}},
		// AdvancedTest (Level 1)
		{name: "test_multiple_requests_with_valid_traceparent", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", "01")}, continues: true, calls: 3},
		}},
		{name: "test_multiple_requests_without_traceparent", requests: []suiteRequest{{calls: 3}}},
		{name: "test_multiple_requests_with_illegal_traceparent", requests: []suiteRequest{
			{headers: []string{"traceparent", "00-" + zeroTraceID + "-" + suiteSpanID + "-01"}, calls: 3},
		}},
		// TraceContext2Test (Level 2)
		{name: "test_propagates_random_flag", requests: []suiteRequest{
			{headers: []string{"traceparent", tp("00", "02")}, continues: true, flags: "02"},
		}},
	}
	p := propagation.New() // the bridge: extracts every format, writes W3C
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracer := tp.Tracer("w3c-suite")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, req := range tt.requests {
				calls := suiteHop(t, p, tracer, req.headers, max(req.calls, 1))
				checkSuiteCalls(t, fmt.Sprintf("request %d %q", i, req.headers), req, calls)
			}
		})
	}
}

// suiteHop sends the header lines through net/http's request parser and a
// service that calls out calls times, and returns the calls' headers.
func suiteHop(t *testing.T, p *propagation.Propagator, tracer trace.Tracer, lines []string, calls int) []http.Header {
	t.Helper()
	var raw strings.Builder
	raw.WriteString("POST /test HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Length: 0\r\n")
	for i := 0; i+1 < len(lines); i += 2 {
		raw.WriteString(lines[i] + ": " + lines[i+1] + "\r\n")
	}
	raw.WriteString("\r\n")
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw.String())))
	if err != nil {
		t.Fatalf("request %q: %v", lines, err)
	}
	ctx := p.Extract(context.Background(), otelprop.HeaderCarrier(req.Header))
	ctx, server := tracer.Start(ctx, "POST /test", trace.WithSpanKind(trace.SpanKindServer))
	defer server.End()
	var out []http.Header
	for range calls {
		cctx, client := tracer.Start(ctx, "POST /callback", trace.WithSpanKind(trace.SpanKindClient))
		h := http.Header{}
		p.Inject(cctx, otelprop.HeaderCarrier(h))
		client.End()
		out = append(out, h)
	}
	return out
}

var suiteTraceparent = regexp.MustCompile(`^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)

// checkSuiteCalls asserts what the suite asserts about the calls' headers.
func checkSuiteCalls(t *testing.T, what string, req suiteRequest, calls []http.Header) {
	t.Helper()
	traceIDs, parentIDs := map[string]bool{}, map[string]bool{}
	for _, h := range calls {
		tps := h.Values("traceparent")
		if len(tps) != 1 {
			t.Fatalf("%s: want one traceparent, got %q", what, tps)
		}
		m := suiteTraceparent.FindStringSubmatch(tps[0])
		if m == nil || m[1] != "00" {
			t.Fatalf("%s: traceparent %q is not a version 00 traceparent", what, tps[0])
		}
		traceIDs[m[2]], parentIDs[m[3]] = true, true
		switch {
		case req.continues && m[2] != suiteTraceID:
			t.Errorf("%s: trace ID %s, want the suite's %s continued", what, m[2], suiteTraceID)
		case !req.continues && (m[2] == suiteTraceID || m[2] == zeroTraceID || strings.HasPrefix(m[2], suiteTraceID[:30])):
			t.Errorf("%s: trace ID %s, want a new trace", what, m[2])
		}
		if m[3] == suiteSpanID {
			t.Errorf("%s: parent ID %s not replaced", what, m[3])
		}
		if req.flags != "" && m[4] != req.flags {
			t.Errorf("%s: trace-flags %s, want %s", what, m[4], req.flags)
		}
		if diff := cmp.Diff(req.tracestate, strings.Join(h.Values("tracestate"), ",")); diff != "" {
			t.Errorf("%s: tracestate (-want +got):\n%s", what, diff)
		}
	}
	if len(traceIDs) != 1 || len(parentIDs) != len(calls) {
		t.Errorf("%s: %d calls carried trace IDs %v and parent IDs %v; want one trace, a parent ID each", what, len(calls), traceIDs, parentIDs)
	}
}

// TestTracestateBeyondTraceState: members trace.TraceState cannot hold
// (Level 2 keys) are written back, in place, whatever the service does to
// the span context's TraceState; a span of another trace does not get them.
func TestTracestateBeyondTraceState(t *testing.T) {
	in := "foo@=1,bar=2,1baz=3,qux=4"
	tests := []struct {
		name   string
		mutate func(trace.TraceState) trace.TraceState
		want   string
	}{
		{name: "unchanged", mutate: func(ts trace.TraceState) trace.TraceState { return ts }, want: in},
		{name: "member added, updated and deleted", mutate: func(ts trace.TraceState) trace.TraceState {
			ts, _ = ts.Insert("new", "x")
			ts, _ = ts.Insert("bar", "9")
			return ts.Delete("qux")
		}, want: "bar=9,new=x,foo@=1,1baz=3"},
		{name: "same value inserted again", mutate: func(ts trace.TraceState) trace.TraceState {
			ts, _ = ts.Insert("qux", "4")
			return ts
		}, want: "foo@=1,bar=2,1baz=3,qux=4"},
	}
	p := propagation.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Traceparent": {tp("00", "01")}, "Tracestate": {in}}
			ctx := p.Extract(context.Background(), otelprop.HeaderCarrier(h))
			sc := trace.SpanContextFromContext(ctx)
			if got := sc.TraceState().String(); got != "bar=2,qux=4" {
				t.Fatalf("span context TraceState %q, want the members it can hold", got)
			}
			child := sc.WithSpanID(trace.SpanID{1}).WithTraceState(tt.mutate(sc.TraceState()))
			out := http.Header{}
			p.Inject(trace.ContextWithSpanContext(ctx, child), otelprop.HeaderCarrier(out))
			if diff := cmp.Diff(tt.want, out.Get("tracestate")); diff != "" {
				t.Errorf("tracestate (-want +got):\n%s", diff)
			}
			other := child.WithTraceID(trace.TraceID{9})
			out = http.Header{}
			p.Inject(trace.ContextWithSpanContext(ctx, other), otelprop.HeaderCarrier(out))
			if got, want := out.Get("tracestate"), child.TraceState().String(); got != want {
				t.Errorf("another trace's tracestate %q, want its own %q", got, want)
			}
		})
	}
}
