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

package activator

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/eventually"
	"github.com/kntrace/kntrace/podstart"
)

func testReport() coldstart.Report {
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	return coldstart.Report{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
		Namespace: "demo", Revision: "hello-00001", Pod: "hello-00001-deployment-7d9c-x2x7q",
		Arrival: t0, ProcessStart: t0.Add(700 * time.Millisecond), Handoff: t0.Add(1400 * time.Millisecond), FirstByte: t0.Add(1420 * time.Millisecond),
	}
}

func runReporter(t *testing.T, r *reporter) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestReporterPostsToPodstart: a report reaches the podstart server's
// endpoint, which takes it.
func TestReporterPostsToPodstart(t *testing.T) {
	srv := podstart.New()
	mux := http.NewServeMux()
	mux.Handle(coldstart.ReportPath, srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	r, err := newReporter(hs.URL+"/", func(err error) { t.Errorf("unexpected error: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	runReporter(t, r)
	r.Report(testReport())
	eventually.True(t, 10*time.Second, "podstart took the report", func() bool { return srv.Stats().Reports == 1 })
	eventually.True(t, 10*time.Second, "the reporter counted it sent", func() bool { return r.sent.Load() == 1 })
}

// TestReporterFailuresCostOnlyReports: an endpoint that refuses or is down
// costs counted reports and one logged error; Report never blocks.
func TestReporterFailuresCostOnlyReports(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "report: traceID: want 32 hex digits", http.StatusBadRequest)
	}))
	t.Cleanup(hs.Close)
	var errs atomic.Int32
	var first atomic.Value
	r, err := newReporter(hs.URL, func(err error) { errs.Add(1); first.Store(err.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	runReporter(t, r)
	r.Report(testReport())
	r.Report(testReport())
	eventually.True(t, 10*time.Second, "both posts failed", func() bool { return r.failed.Load() == 2 })
	if n := r.retries.Load(); n != 0 {
		t.Errorf("%d retries of a report podstart refused as invalid, want none", n)
	}
	if errs.Load() != 1 || !strings.Contains(first.Load().(string), "400") || !strings.Contains(first.Load().(string), "traceID") {
		t.Errorf("%d errors, first %v; want one that gives the status and the server's reason", errs.Load(), first.Load())
	}

	// Nobody drains this one: Report drops what does not fit.
	full, err := newReporter(hs.URL, func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	for range reportQueue + 3 {
		full.Report(testReport())
	}
	if full.dropped.Load() != 3 {
		t.Errorf("dropped %d, want the 3 beyond the queue", full.dropped.Load())
	}
}

// quickRetries makes r retry at once and give an attempt timeout.
func quickRetries(r *reporter, timeout time.Duration) {
	r.client.Timeout = timeout
	r.backoff = backoff.Policy{Initial: time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 2}
}

// TestReporterRetriesWhatMayPass: podstart busy (429, waited for as its
// Retry-After asks), failing (503), gone mid-answer, and so slow that the
// activator stops waiting after podstart took the report: each is retried,
// and podstart records the report once.
func TestReporterRetriesWhatMayPass(t *testing.T) {
	srv := podstart.New()
	var calls atomic.Int32
	var busyAt, nextAt atomic.Int64 // the 429's time and the next attempt's
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := calls.Add(1)
		switch n {
		case 1:
			busyAt.Store(time.Now().UnixNano())
		case 2:
			nextAt.Store(time.Now().UnixNano())
		}
		switch n {
		case 1:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "256 reports already wait for their records", http.StatusTooManyRequests)
		case 2:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case 3:
			panic(http.ErrAbortHandler) // the connection closes without an answer
		case 4:
			// Taken, but answered after the activator stopped waiting.
			srv.ServeHTTP(httptest.NewRecorder(), req)
			<-req.Context().Done()
		default:
			srv.ServeHTTP(w, req)
		}
	}))
	t.Cleanup(hs.Close)
	r, err := newReporter(hs.URL, func(err error) { t.Errorf("unexpected error: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	quickRetries(r, 300*time.Millisecond)
	runReporter(t, r)
	r.Report(testReport())
	eventually.True(t, 10*time.Second, "the reporter counted the report sent", func() bool { return r.sent.Load() == 1 })
	got := []uint64{r.retries.Load(), r.failed.Load(), srv.Stats().Reports, srv.Stats().Duplicates}
	if diff := cmp.Diff([]uint64{4, 0, 1, 1}, got); diff != "" {
		t.Errorf("retries, failed, reports taken, duplicates (-want +got):\n%s", diff)
	}
	if waited := time.Duration(nextAt.Load() - busyAt.Load()); waited < time.Second {
		t.Errorf("retried %s after a 429 with Retry-After: 1, want at least 1s", waited)
	}
}

// TestReporterGivesUp: a podstart that keeps failing costs the report once
// its patience is spent, with one logged error that says so.
func TestReporterGivesUp(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}))
	t.Cleanup(hs.Close)
	var first atomic.Value
	r, err := newReporter(hs.URL, func(err error) { first.CompareAndSwap(nil, err.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	quickRetries(r, time.Second)
	r.patience = 200 * time.Millisecond
	runReporter(t, r)
	r.Report(testReport())
	eventually.True(t, 10*time.Second, "the report failed", func() bool { return r.failed.Load() == 1 })
	msg, _ := first.Load().(string)
	if !strings.Contains(msg, "503") || !strings.Contains(msg, "gave up") || r.retries.Load() == 0 || r.sent.Load() != 0 {
		t.Errorf("error %q after %d retries, %d sent; want retries, then one error giving the status and that it gave up", msg, r.retries.Load(), r.sent.Load())
	}
}

func TestReporterAddress(t *testing.T) {
	for _, bad := range []string{"podstart:8080", "ftp://podstart", "http://", "::"} {
		_, err := newReporter(bad, func(error) {})
		if err == nil || !strings.Contains(err.Error(), conventions.EnvPodstart) || !strings.Contains(err.Error(), "http://") {
			t.Errorf("newReporter(%q) = %v, want an error naming %s and an example", bad, err, conventions.EnvPodstart)
		}
	}
}
