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

package appsdk_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	model "github.com/jaegertracing/jaeger-idl/model/v1"
	"go.opentelemetry.io/otel/attribute"

	"github.com/kntrace/kntrace/appsdk"
	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/spanbuffer"
	"github.com/kntrace/kntrace/test/backends"
)

func startApp(t *testing.T, env map[string]string, opts ...spanbuffer.Option) *appsdk.SDK {
	t.Helper()
	s, err := appsdk.Start(context.Background(), appsdk.WithEnv(func(k string) string { return env[k] }), appsdk.WithoutGlobal(),
		appsdk.WithBufferOptions(append([]spanbuffer.Option{
			spanbuffer.WithBatchTimeout(100 * time.Millisecond),
			spanbuffer.WithBackoff(backoff.Policy{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, Multiplier: 2, Jitter: 0.2}),
		}, opts...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// burst makes a root span "burst" with n children span-0000… (ended before
// the root) and returns the trace ID.
func burst(s *appsdk.SDK, n int) string {
	tr := s.TracerProvider().Tracer("burst")
	ctx, root := tr.Start(context.Background(), "burst")
	for i := range n {
		_, c := tr.Start(ctx, fmt.Sprintf("span-%04d", i))
		c.SetAttributes(attribute.Int("seq", i))
		c.End()
	}
	root.End()
	return root.SpanContext().TraceID().String()
}

func spanNames(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("span-%04d", i))
	}
	return out
}

// TestAppCollectorStartsLate: two apps built with the app SDK make a burst of
// spans while the collector is down; one buffer holds them all, the other is
// smaller than the burst. The collector starts 5 s later. The first app's
// Shutdown delivers all N+1 spans within its deadline; the second delivers
// exactly the newest spans its bound held, with exact counters.
func TestAppCollectorStartsLate(t *testing.T) {
	stack := backends.Start(t, false)
	q, err := jaeger.Dial(context.Background(), stack.Jaeger.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	const n = 300
	const small = 50

	full := startApp(t, map[string]string{
		conventions.EnvProtocol: "grpc", conventions.EnvEndpoint: stack.Collector.GRPCEndpoint(),
		conventions.EnvServiceName: "kntrace-app-full-" + run, "K_REVISION": "full-00001",
	})
	const smallBytes = 64 << 10
	smallApp := startApp(t, map[string]string{
		conventions.EnvEndpoint: "http://" + stack.Collector.HTTP, conventions.EnvServiceName: "kntrace-app-small-" + run,
	}, spanbuffer.WithMaxSpans(small), spanbuffer.WithMaxBytes(smallBytes))

	producedAt := time.Now()
	fullTrace := burst(full, n)
	smallTrace := burst(smallApp, n)

	if err := pollFor(10*time.Second, func() bool {
		return full.Buffer().Stats().Retries > 0 && smallApp.Buffer().Stats().Retries > 0
	}); err != nil {
		t.Fatal("the apps' exports did not fail while the collector was down: ", err)
	}
	if diff := cmp.Diff(spanbuffer.Stats{Received: n + 1, Buffered: n + 1},
		zeroRetriesBytes(full.Buffer().Stats())); diff != "" {
		t.Errorf("full buffer while the collector is down (-want +got):\n%s", diff)
	}
	st := smallApp.Buffer().Stats()
	if diff := cmp.Diff(spanbuffer.Stats{Received: n + 1, Dropped: n + 1 - small, Buffered: small},
		zeroRetriesBytes(st)); diff != "" {
		t.Errorf("small buffer while the collector is down (-want +got):\n%s", diff)
	}
	if st.Bytes > smallBytes {
		t.Errorf("small buffer holds %d bytes, over its %d bound", st.Bytes, smallBytes)
	}

	// The collector comes up 5 s after the spans were made: this wait is the
	// delay being tested, not synchronisation.
	time.Sleep(time.Until(producedAt.Add(5 * time.Second)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := stack.Collector.Start(ctx); err != nil {
		t.Fatal(err)
	}

	// Shutdown with every span still pending: all delivered within the deadline.
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	begin := time.Now()
	if err := full.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown with %d spans pending: %v", n+1, err)
	}
	t.Logf("Shutdown delivered %d pending spans in %s", n+1, time.Since(begin).Round(time.Millisecond))
	if err := smallApp.Buffer().ForceFlush(sctx); err != nil {
		t.Fatal(err)
	}
	if st := full.Buffer().Stats(); st.Exported != n+1 || st.Dropped != 0 {
		t.Errorf("full buffer after the collector started: %+v", st)
	}
	if st := smallApp.Buffer().Stats(); st.Exported != small || st.Dropped != n+1-small || st.Buffered != 0 {
		t.Errorf("small buffer after the collector started: %+v", st)
	}

	tr := backends.WaitSpans(t, q, fullTrace, n+1)
	if diff := cmp.Diff(append(spanNames(0, n), "burst"), names(tr)); diff != "" {
		t.Errorf("full app's trace (-want +got):\n%s", diff)
	}
	tr = backends.WaitSpans(t, q, smallTrace, small)
	// The oldest were dropped: the newest children and the root (ended last) remain.
	if diff := cmp.Diff(append(spanNames(n-small+1, n), "burst"), names(tr)); diff != "" {
		t.Errorf("small app's trace (-want +got):\n%s", diff)
	}
}

func names(tr *model.Trace) []string {
	var out []string
	for _, s := range tr.Spans {
		out = append(out, s.OperationName)
	}
	slices.SortFunc(out, func(a, b string) int {
		if a == "burst" {
			return 1
		}
		if b == "burst" {
			return -1
		}
		return strings.Compare(a, b)
	})
	return out
}

func zeroRetriesBytes(st spanbuffer.Stats) spanbuffer.Stats {
	st.Retries, st.Bytes = 0, 0
	return st
}

func pollFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
