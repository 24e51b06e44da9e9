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

func TestReporterAddress(t *testing.T) {
	for _, bad := range []string{"podstart:8080", "ftp://podstart", "http://", "::"} {
		_, err := newReporter(bad, func(error) {})
		if err == nil || !strings.Contains(err.Error(), conventions.EnvPodstart) || !strings.Contains(err.Error(), "http://") {
			t.Errorf("newReporter(%q) = %v, want an error naming %s and an example", bad, err, conventions.EnvPodstart)
		}
	}
}
