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

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/activatorhooks"
	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/plane"
)

// pct is the p-th percentile of ds (nearest rank).
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(i, 0)]
}

// startPlane starts a local plane once the activator's ports are free; it
// stops when t ends.
func startPlane(t *testing.T, opts ...plane.Option) *plane.Plane {
	t.Helper()
	return plane.StartForTest(t, opts...)
}

// buildActivator builds this command into a temporary directory.
func buildActivator(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(t.TempDir(), "activator")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Dir(file)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/activator: %v\n%s", err, b)
	}
	return out
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// get sends one request to Knative Service svc through the plane's ingress.
func get(t *testing.T, p *plane.Plane, svc, path string, h http.Header) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := p.NewRequest(ctx, http.MethodGet, "default", svc, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", svc, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v := resp.Header.Get("K-Kntrace-Timeline"); v != "" {
		t.Errorf("response carries K-Kntrace-Timeline %q: the activator must remove it", v)
	}
	return resp.StatusCode, string(b)
}

func mustSpanID(t *testing.T, s string) model.SpanID {
	id, err := model.SpanIDFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func tag(s *model.Span, key string) (any, bool) {
	for _, kv := range s.Tags {
		if kv.Key == key {
			return kv.Value(), true
		}
	}
	return nil, false
}

func isServer(s *model.Span) bool {
	k, ok := s.GetSpanKind()
	return ok && k == model.SpanKindServer
}

func service(s *model.Span) string {
	if s.Process == nil {
		return ""
	}
	return s.Process.ServiceName
}

// isQueueProxy reports whether s is one of Knative's queue-proxy spans (it
// exports them under the revision's service name).
func isQueueProxy(s *model.Span) bool {
	return strings.HasPrefix(s.OperationName, "kn.queueproxy.")
}

func describe(tr *model.Trace) string { return plane.DescribeTrace(tr) }

// waitTrace is plane.WaitTrace with a 30 s bound, failing the test on a timeout.
func waitTrace(t *testing.T, jc *jaeger.Client, traceID string, want map[string]func(*model.Span) bool) *model.Trace {
	t.Helper()
	tr, err := plane.WaitTrace(context.Background(), jc, traceID, 30*time.Second, want)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// waitActivatorRoot waits for a trace started by the activator itself (its
// server span has no parent) after since, and returns it.
func waitActivatorRoot(t *testing.T, jc *jaeger.Client, since time.Time) *model.Trace {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		traces, err := jc.FindTraces(ctx, jaeger.Query{Service: "activator", StartMin: since.Add(-time.Second), Limit: 50})
		cancel()
		for _, tr := range traces {
			for _, s := range tr.Spans {
				if service(s) == "activator" && isServer(s) && s.ParentSpanID() == 0 && !s.StartTime.Before(since) {
					return tr
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trace rooted at the activator in Jaeger after 30s (FindTraces: %d traces, err %v)", len(traces), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestB3ThroughTheActivator runs the real plane twice, once with this
// activator and once with upstream's (activator-upstream), Knative's
// queue-proxy in both, and sends B3-only requests to a revision at zero
// (cold) and then with a pod up (warm). kntrace's activator continues the
// caller's trace (its request span is a child of the caller's span, the
// queue-proxy's span follows in the same trace) and marks the wait;
// upstream's starts a new trace, so Jaeger holds nothing under the caller's
// trace ID.
func TestB3ThroughTheActivator(t *testing.T) {
	kntrace := buildActivator(t)
	warm := map[string][]time.Duration{}
	defer func() {
		if len(warm["kntrace"]) > 0 && len(warm["upstream"]) > 0 {
			k, u := warm["kntrace"], warm["upstream"]
			t.Logf("warm requests through the plane (ingress → activator → queue-proxy → app), %d each: p50 kntrace %s upstream %s (%.3f×), p99 kntrace %s upstream %s (%.3f×)",
				len(k), pct(k, 50), pct(u, 50), float64(pct(k, 50))/float64(pct(u, 50)),
				pct(k, 99), pct(u, 99), float64(pct(k, 99))/float64(pct(u, 99)))
		}
	}()
	for _, tc := range []struct {
		name      string
		activator string // "" is upstream's
		continues bool
	}{
		{"kntrace", kntrace, true},
		{"upstream", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPlane(t, plane.WithActivator(tc.activator), plane.WithIdleTimeout(time.Hour))
			ctx := context.Background()
			_, file, _, _ := runtime.Caller(0)
			if err := p.ApplyFile(ctx, filepath.Join(filepath.Dir(file), "..", "..", "samples", "helloworld", "service.yaml")); err != nil {
				t.Fatal(err)
			}
			svc, err := p.WaitServiceReady(ctx, "default", "greeter", 3*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			rev := svc.Status.LatestReadyRevisionName
			if n := len(p.Pods("default", rev)); n != 0 {
				t.Fatalf("revision %s starts with %d pods, want 0", rev, n)
			}
			jc, err := p.Jaeger(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer jc.Close()

			for _, step := range []struct {
				name   string
				header func(traceID, spanID string) http.Header
				cold   bool
			}{
				{"cold, B3 multi", func(tr, sp string) http.Header {
					return http.Header{"X-B3-Traceid": {tr}, "X-B3-Spanid": {sp}, "X-B3-Sampled": {"1"}}
				}, true},
				{"warm, B3 single", func(tr, sp string) http.Header {
					return http.Header{"B3": {tr + "-" + sp + "-1"}}
				}, false},
			} {
				traceID, spanID := randHex(t, 16), randHex(t, 8)
				since := time.Now()
				start := time.Now()
				status, body := get(t, p, "greeter", "/greet", step.header(traceID, spanID))
				took := time.Since(start)
				if status != http.StatusOK || body != "Knative" {
					t.Fatalf("%s: %d %q, want 200 \"Knative\"", step.name, status, body)
				}
				t.Logf("%s %s: %s", tc.name, step.name, took.Round(time.Millisecond))
				if !tc.continues {
					root := waitActivatorRoot(t, jc, since)
					t.Logf("%s, %s: upstream's activator started trace %s:\n%s", tc.name, step.name, root.Spans[0].TraceID, describe(root))
					ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					got, err := jc.GetTrace(ctx, traceID)
					cancel()
					if err == nil {
						t.Fatalf("%s: Jaeger holds %d spans under the caller's trace %s; upstream is expected to cut it:\n%s", step.name, len(got.Spans), traceID, describe(got))
					}
					continue
				}
				var server *model.Span
				tr := waitTrace(t, jc, traceID, map[string]func(*model.Span) bool{
					"the activator's request span, child of the caller's span": func(s *model.Span) bool {
						if service(s) == "activator" && isServer(s) && s.ParentSpanID() == mustSpanID(t, spanID) {
							server = s
							return true
						}
						return false
					},
					"throttler_try with the revision and the backends at arrival": func(s *model.Span) bool {
						v, _ := tag(s, "faas.version")
						zero, _ := tag(s, activatorhooks.AttrZeroBackends)
						_, waited := tag(s, activatorhooks.AttrWaitMs)
						return s.OperationName == "throttler_try" && v == rev && zero == step.cold && waited
					},
					"a queue-proxy span": isQueueProxy,
				})
				t.Logf("%s, %s: trace %s:\n%s", tc.name, step.name, traceID, describe(tr))
				// The activator itself marks every request that waited for a
				// revision at zero, whichever queue-proxy runs behind it;
				// a warm request carries no mark.
				v, marked := tag(server, "faas.coldstart")
				switch {
				case step.cold && (!marked || v != true):
					t.Errorf("%s: request span faas.coldstart = %v (set %t), want true: the request waited at zero backends", step.name, v, marked)
				case !step.cold && marked:
					t.Errorf("%s: request span faas.coldstart = %v, want none on a warm request", step.name, v)
				}
			}

			// Sampling (tracing-sampling-rate 1): a caller that decided not
			// to sample is followed by kntrace's parent-based sampler;
			// upstream's AlwaysSample records the trace anyway. A sampled
			// marker request sent afterwards bounds the wait for spans that
			// should not exist.
			unsampled := randHex(t, 16)
			if status, _ := get(t, p, "greeter", "/greet", http.Header{"Traceparent": {"00-" + unsampled + "-" + randHex(t, 8) + "-00"}}); status != http.StatusOK {
				t.Fatalf("unsampled request: status %d", status)
			}
			marker, markerSpan := randHex(t, 16), randHex(t, 8)
			if status, _ := get(t, p, "greeter", "/greet", http.Header{"Traceparent": {"00-" + marker + "-" + markerSpan + "-01"}}); status != http.StatusOK {
				t.Fatalf("marker request: status %d", status)
			}
			waitTrace(t, jc, marker, map[string]func(*model.Span) bool{
				"the activator's request span": func(s *model.Span) bool { return service(s) == "activator" && isServer(s) },
				"a queue-proxy span":           isQueueProxy,
			})
			// Only the activator's spans count: Knative's queue-proxy
			// behind it samples with AlwaysSample in both runs.
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			got, err := jc.GetTrace(ctx, unsampled)
			cancel()
			recorded := false
			if err == nil {
				recorded = slices.ContainsFunc(got.Spans, func(s *model.Span) bool { return service(s) == "activator" })
			}
			switch {
			case tc.continues && recorded:
				t.Errorf("kntrace: the activator recorded the caller's unsampled trace %s: sampling is not parent-based:\n%s", unsampled, describe(got))
			case !tc.continues && !recorded:
				t.Errorf("upstream: the activator did not record the caller's unsampled trace %s; expected upstream's AlwaysSample to (%v)", unsampled, err)
			case recorded:
				t.Logf("upstream's activator records the caller's unsampled trace %s:\n%s", unsampled, describe(got))
			default:
				t.Logf("kntrace's activator follows the caller's decision not to sample trace %s", unsampled)
			}

			// Warm latency, every request sampled, for the comparison logged
			// at the end.
			const n = 300
			for range n {
				h := http.Header{"Traceparent": {"00-" + randHex(t, 16) + "-" + randHex(t, 8) + "-01"}}
				start := time.Now()
				if status, _ := get(t, p, "greeter", "/greet", h); status != http.StatusOK {
					t.Fatalf("warm request: status %d", status)
				}
				warm[tc.name] = append(warm[tc.name], time.Since(start))
			}
		})
	}
}

// timelineQueue is a queue-proxy stand-in that reports its cold-start
// timeline like kntrace's queue-proxy (cmd/activator/testdata/timelinequeue).
const timelineQueue = "ko://github.com/kntrace/kntrace/cmd/activator/testdata/timelinequeue"

// TestColdStartPhasesThroughTheActivator: this activator, a revision at
// zero whose pods report their timeline. The cold request's span is marked
// faas.coldstart=true and holds the four phase spans, contiguous, in the
// request's own trace; the timeline header does not reach the client; the
// next (warm) request has no phases.
func TestColdStartPhasesThroughTheActivator(t *testing.T) {
	p := startPlane(t, plane.WithActivator(buildActivator(t)), plane.WithQueueProxy(timelineQueue),
		plane.WithIdleTimeout(time.Hour))
	ctx := context.Background()
	_, file, _, _ := runtime.Caller(0)
	if err := p.ApplyFile(ctx, filepath.Join(filepath.Dir(file), "..", "..", "samples", "helloworld", "service.yaml")); err != nil {
		t.Fatal(err)
	}
	svc, err := p.WaitServiceReady(ctx, "default", "greeter", 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rev := svc.Status.LatestReadyRevisionName
	jc, err := p.Jaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()

	for _, cold := range []bool{true, false} {
		traceID, spanID := randHex(t, 16), randHex(t, 8)
		start := time.Now()
		status, body := get(t, p, "greeter", "/greet", http.Header{"Traceparent": {"00-" + traceID + "-" + spanID + "-01"}})
		took := time.Since(start)
		if status != http.StatusOK || body != "Knative" {
			t.Fatalf("cold=%v: %d %q, want 200 \"Knative\"", cold, status, body)
		}
		var server *model.Span
		want := map[string]func(*model.Span) bool{
			"the activator's request span": func(s *model.Span) bool {
				if service(s) == "activator" && isServer(s) && s.ParentSpanID() == mustSpanID(t, spanID) {
					server = s
					return true
				}
				return false
			},
			"throttler_try": func(s *model.Span) bool { return s.OperationName == "throttler_try" },
		}
		if cold {
			for _, ph := range coldstart.Phases() {
				want["phase "+ph] = func(s *model.Span) bool {
					v, _ := tag(s, coldstart.AttrPhase)
					return s.OperationName == coldstart.SpanPhasePrefix+ph && v == ph
				}
			}
		}
		tr := waitTrace(t, jc, traceID, want)
		t.Logf("cold=%v, %s to the last byte; trace %s:\n%s", cold, took.Round(time.Millisecond), traceID, describe(tr))
		if v, ok := tag(server, "faas.coldstart"); cold && v != true || !cold && ok {
			t.Errorf("cold=%v: request span faas.coldstart = %v (set %v), want true on the cold request, none on the warm one", cold, v, ok)
		}
		var phases []*model.Span
		for _, ph := range coldstart.Phases() {
			for _, s := range tr.Spans {
				if s.OperationName == coldstart.SpanPhasePrefix+ph {
					phases = append(phases, s)
				}
			}
		}
		if !cold {
			if len(phases) != 0 {
				t.Errorf("warm request has %d phase spans, want none", len(phases))
			}
			continue
		}
		if len(phases) != 4 {
			t.Fatalf("cold request has %d phase spans, want 4", len(phases))
		}
		var total time.Duration
		for i, s := range phases {
			if s.ParentSpanID() != server.SpanID {
				t.Errorf("%s: parent %s, want the request span %s", s.OperationName, s.ParentSpanID(), server.SpanID)
			}
			if v, _ := tag(s, "faas.version"); v != rev {
				t.Errorf("%s: faas.version = %v, want %s", s.OperationName, v, rev)
			}
			if i > 0 {
				prevEnd := phases[i-1].StartTime.Add(phases[i-1].Duration)
				if gap := s.StartTime.Sub(prevEnd); gap < -time.Microsecond || gap > time.Microsecond {
					t.Errorf("%s starts %s after the previous phase ends, want contiguous", s.OperationName, gap)
				}
			}
			total += s.Duration
			t.Logf("  %-28s %s", s.OperationName, s.Duration)
		}
		// The pod is started by the autoscaler after the request arrives:
		// waiting for it is part of this cold start, and the phases cover
		// the request's time in the activator up to the first byte.
		if phases[0].Duration <= 0 {
			t.Errorf("pod_start lasted %s, want > 0 (the pod started after the request arrived)", phases[0].Duration)
		}
		if total <= 0 || total > server.Duration {
			t.Errorf("phases total %s, want > 0 and within the request span's %s", total, server.Duration)
		}
	}
}
