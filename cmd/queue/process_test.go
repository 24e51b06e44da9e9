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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/backends"
	"github.com/kntrace/kntrace/test/binaries"
)

// The two sides every process test runs.
const (
	sideKntrace  = "kntrace"
	sideUpstream = "upstream"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// TestMain removes what built built once every test and benchmark is done.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		if err := os.RemoveAll(buildDir); err != nil {
			fmt.Fprintln(os.Stderr, "removing the build directory:", err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// built returns kntrace's queue-proxy and the test app, built once per test
// binary with go build into a directory TestMain removes.
func built(t testing.TB) (queue, app string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "kntrace-queue-build-")
		if buildErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{{"queue", "."}, {"app", "./testdata/app"}} {
			// As ko builds the image and hack/tools.sh queue-upstream, so
			// sizes and start-up compare: static, without cgo (a build
			// with cgo loads libc at every start).
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(buildDir, b.out), b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v: %s", b.pkg, err, out)
				return
			}
			if buildErr = binaries.RequireStatic(filepath.Join(buildDir, b.out)); buildErr != nil {
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "queue"), filepath.Join(buildDir, "app")
}

// queueBinary is the queue-proxy of a side.
func queueBinary(t testing.TB, side string) string {
	if side == sideUpstream {
		return binaries.Require(t, binaries.QueueUpstream)
	}
	q, _ := built(t)
	return q
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tracingSpec is config-observability sending to collector through the
// pod's forwarder, at rate.
func tracingSpec(endpoint, rate string) map[string]string {
	return map[string]string{"tracing-protocol": "grpc", "tracing-endpoint": "http://" + endpoint, "tracing-sampling-rate": rate}
}

// findByPath waits until Jaeger holds the queue-proxy's server span for
// path and returns its trace.
func findByPath(ctx context.Context, t testing.TB, jc *jaeger.Client, path string, timeout time.Duration, want func(*model.Trace) error) *model.Trace {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		traces, err := jc.FindTraces(ctx, jaeger.Query{Service: testService, Tags: map[string]string{"url.path": path}, Raw: true})
		switch {
		case err != nil:
			last = err
		case len(traces) == 0:
			last = fmt.Errorf("no trace of service %s with url.path=%s", testService, path)
		default:
			tr, err := jc.GetTrace(ctx, traces[0].Spans[0].TraceID.String())
			if err != nil {
				last = err
				break
			}
			if last = want(tr); last == nil {
				return tr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger: the trace of %s is not as wanted within %s: %v", path, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func spansBy(tr *model.Trace, service, op string) []*model.Span {
	var out []*model.Span
	for _, s := range tr.Spans {
		if s.Process != nil && s.Process.ServiceName == service && (op == "" || s.OperationName == op) {
			out = append(out, s)
		}
	}
	return out
}

func spanByID(tr *model.Trace, id model.SpanID) *model.Span {
	for _, s := range tr.Spans {
		if s.SpanID == id {
			return s
		}
	}
	return nil
}

func describe(tr *model.Trace) string {
	var b strings.Builder
	for _, s := range tr.Spans {
		p := "-"
		if ps := spanByID(tr, s.ParentSpanID()); ps != nil {
			p = ps.OperationName
		}
		fmt.Fprintf(&b, "\n  %s/%s (parent %s)", s.Process.ServiceName, s.OperationName, p)
	}
	return b.String()
}

func hasQueueServer(tr *model.Trace) error {
	for _, s := range spansBy(tr, testService, "") {
		if k, ok := s.GetSpanKind(); ok && k == model.SpanKindServer {
			return nil
		}
	}
	return fmt.Errorf("no server span of %s yet:%s", testService, describe(tr))
}

func hasAppSpans(tr *model.Trace) error {
	if err := hasQueueServer(tr); err != nil {
		return err
	}
	if len(spansBy(tr, appService, "app.work")) == 0 {
		return fmt.Errorf("no app.work span of %s yet:%s", appService, describe(tr))
	}
	return nil
}

// TestB3AndColdStart runs each side's queue-proxy in front of the app with
// the environment Knative's code gives it. kntrace: a B3-only request
// continues the caller's trace down to the app's spans, the call to the app
// is a child of kn.queueproxy.proxy, and only the first request carries the
// cold-start span and the timeline header. Upstream: the B3 trace is
// broken at the queue-proxy and nothing marks the cold start.
func TestB3AndColdStart(t *testing.T) {
	_, app := built(t)
	stack := backends.Start(t, true)
	ctx := t.Context()
	jc, err := jaeger.Dial(ctx, stack.Jaeger.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jc.Close() })
	for _, side := range []string{sideKntrace, sideUpstream} {
		t.Run(side, func(t *testing.T) {
			ns := newNetns(t)
			fwd := newForwarder(t, ns.hostIP, stack.Collector.GRPC)
			spec := makePod(t, revisionSpec{observability: tracingSpec(fwd.Addr(), "1"), concurrency: 1})
			p := startPod(t, ns, spec, podOptions{queueBinary: queueBinary(t, side), appBinary: app})

			type sent struct {
				trace, span, path, timeline string
			}
			var reqs []sent
			for i := range 2 {
				r := sent{trace: randomHex(16), span: randomHex(8), path: fmt.Sprintf("/%s-%d-%s", side, i, randomHex(4))}
				req := map[string]string{"b3": r.trace + "-" + r.span + "-1"}
				resp, err := p.getPath(ctx, r.path, req)
				if err != nil {
					t.Fatalf("request %d: %v\nqueue-proxy log:\n%s", i, err, p.queue.LogTail(20))
				}
				r.timeline = resp.Header.Get(coldstart.Header)
				reqs = append(reqs, r)
			}

			want := hasQueueServer
			if side == sideKntrace {
				want = hasAppSpans
			}
			for i, r := range reqs {
				tr := findByPath(ctx, t, jc, r.path, 30*time.Second, want)
				server := spansBy(tr, testService, "")
				var srv *model.Span
				for _, s := range server {
					if k, _ := s.GetSpanKind(); k == model.SpanKindServer {
						srv = s
					}
				}
				continued := srv.TraceID.String() == r.trace && srv.ParentSpanID().String() == r.span
				coldSpans := spansBy(tr, testService, coldstart.SourceQueueProxy.SpanName())
				switch side {
				case sideKntrace:
					if !continued {
						t.Errorf("request %d: server span %s in trace %s (parent %s), want the caller's trace %s, parent %s", i, srv.OperationName, srv.TraceID, srv.ParentSpanID(), r.trace, r.span)
					}
					if srv.OperationName != "GET "+testRevision {
						t.Errorf("request %d: server span named %q, want %q", i, srv.OperationName, "GET "+testRevision)
					}
					client := spansBy(tr, testService, "GET "+testRevision+" app")
					if len(client) != 1 {
						t.Fatalf("request %d: %d client spans to the app:%s", i, len(client), describe(tr))
					}
					if ps := spanByID(tr, client[0].ParentSpanID()); ps == nil || ps.OperationName != "kn.queueproxy.proxy" {
						t.Errorf("request %d: client span's parent is not kn.queueproxy.proxy:%s", i, describe(tr))
					}
					for _, as := range spansBy(tr, appService, "") {
						if k, _ := as.GetSpanKind(); k == model.SpanKindServer && as.ParentSpanID() != client[0].SpanID {
							t.Errorf("request %d: the app's server span is not a child of the queue-proxy's client span:%s", i, describe(tr))
						}
					}
					if first := i == 0; (len(coldSpans) == 1) != first || (r.timeline != "") != first {
						t.Errorf("request %d: %d %s spans and %s %q; want them on the first request only", i, len(coldSpans), coldstart.SourceQueueProxy.SpanName(), coldstart.Header, r.timeline)
					}
					if i == 0 {
						if st, err := coldstart.ParseHeader(r.timeline); err != nil {
							t.Errorf("first response: %v", err)
						} else if !strings.HasPrefix(st.Pod, testRevision+"-deployment-") {
							t.Errorf("first response: %s names pod %q, want the queue-proxy's SERVING_POD", coldstart.Header, st.Pod)
						}
						if ps := spanByID(tr, coldSpans[0].ParentSpanID()); ps != srv {
							t.Errorf("%s is not a child of the server span:%s", coldstart.SourceQueueProxy.SpanName(), describe(tr))
						}
					}
				case sideUpstream:
					if continued || srv.TraceID.String() == r.trace {
						t.Errorf("request %d: upstream continued the B3 trace %s: the upstream fact no longer holds", i, r.trace)
					}
					if len(coldSpans) != 0 || r.timeline != "" {
						t.Errorf("request %d: upstream marked a cold start", i)
					}
					if _, err := jc.GetTrace(ctx, r.trace); err == nil {
						t.Errorf("request %d: Jaeger holds the caller's trace %s; upstream should have started a new one", i, r.trace)
					}
				}
			}
		})
	}
}

// TestRelayHoldsSpansWhileCollectorDown: the app exports to localhost:4318
// while the Collector is down. kntrace's relay holds its spans and the
// queue-proxy's, and forwards them once the Collector starts. Upstream has
// nothing on 4318: the app's spans are lost.
func TestRelayHoldsSpansWhileCollectorDown(t *testing.T) {
	_, app := built(t)
	for _, side := range []string{sideKntrace, sideUpstream} {
		t.Run(side, func(t *testing.T) {
			stack := backends.Start(t, false)
			ctx := t.Context()
			jc, err := jaeger.Dial(ctx, stack.Jaeger.QueryGRPC)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { jc.Close() })
			ns := newNetns(t)
			fwd := newForwarder(t, ns.hostIP, stack.Collector.GRPC)
			spec := makePod(t, revisionSpec{observability: tracingSpec(fwd.Addr(), "1"), concurrency: 0})
			p := startPod(t, ns, spec, podOptions{queueBinary: queueBinary(t, side), appBinary: app})
			path := "/down-" + randomHex(4)
			if _, err := p.getPath(ctx, path, map[string]string{"traceparent": "00-" + randomHex(16) + "-" + randomHex(8) + "-01"}); err != nil {
				t.Fatal(err)
			}
			// The Collector stays down while both exporters give it a try.
			time.Sleep(2 * time.Second)
			if err := stack.Collector.Start(ctx); err != nil {
				t.Fatal(err)
			}
			switch side {
			case sideKntrace:
				findByPath(ctx, t, jc, path, 30*time.Second, hasAppSpans)
			case sideUpstream:
				tr := findByPath(ctx, t, jc, path, 30*time.Second, hasQueueServer)
				// The app's batch exporter has had ~3 s at a 100 ms delay.
				if n := len(spansBy(tr, appService, "")); n != 0 {
					t.Errorf("upstream: %d app spans arrived without a relay:%s", n, describe(tr))
				}
			}
		})
	}
}

// TestSIGTERMDrains: with the Collector down, the pod gets SIGTERM right
// after a request (scale to zero); the Collector comes back during the
// queue-proxy's drain. Every span, the app's (flushed to the relay at
// SIGTERM) and the queue-proxy's own (flushed after its drain), reaches
// Jaeger before the queue-proxy exits.
func TestSIGTERMDrains(t *testing.T) {
	_, app := built(t)
	stack := backends.Start(t, false)
	ctx := t.Context()
	jc, err := jaeger.Dial(ctx, stack.Jaeger.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { jc.Close() })
	ns := newNetns(t)
	fwd := newForwarder(t, ns.hostIP, stack.Collector.GRPC)
	spec := makePod(t, revisionSpec{observability: tracingSpec(fwd.Addr(), "1"), concurrency: 0})
	q, _ := built(t)
	p := startPod(t, ns, spec, podOptions{queueBinary: q, appBinary: app, grace: 90 * time.Second})
	path := "/sigterm-" + randomHex(4)
	if _, err := p.getPath(ctx, path, map[string]string{"traceparent": "00-" + randomHex(16) + "-" + randomHex(8) + "-01"}); err != nil {
		t.Fatal(err)
	}
	if err := p.terminate(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the Collector is still down when the app flushes
	if err := stack.Collector.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.queue.Done():
	case <-time.After(80 * time.Second):
		t.Fatalf("queue-proxy still running 80 s after SIGTERM; log:\n%s", p.queue.LogTail(20))
	}
	if _, err := p.queue.Exited(); err != nil {
		t.Errorf("queue-proxy exit: %v; log:\n%s", err, p.queue.LogTail(20))
	}
	log, _ := os.ReadFile(p.queue.LogPath)
	if !strings.Contains(string(log), "relay stopped") || !strings.Contains(string(log), "dropped_spans=0") {
		t.Errorf("queue-proxy log has no clean relay stop; tail:\n%s", p.queue.LogTail(10))
	}
	// Everything was forwarded before the exit: it is in Jaeger now.
	findByPath(ctx, t, jc, path, 5*time.Second, hasAppSpans)
}
