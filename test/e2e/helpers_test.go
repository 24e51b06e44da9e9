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

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/plane"
)

// repoRoot is the module root (samples live there).
func repoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the test source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func randHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// response is one request's outcome.
type response struct {
	status int
	body   string
	ttfb   time.Duration
}

// send makes one request to a Knative Service through the plane's ingress
// and measures the time to the first response byte.
func send(tb testing.TB, p *plane.Plane, ns, svc, path string, header http.Header) response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := p.NewRequest(ctx, http.MethodGet, ns, svc, path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	var start, first time.Time
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotFirstResponseByte: func() { first = time.Now() },
	}))
	start = time.Now()
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		tb.Fatalf("GET %s.%s%s: %v", svc, ns, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), ttfb: first.Sub(start)}
}

// dialJaeger connects to the plane's Jaeger.
func dialJaeger(tb testing.TB, p *plane.Plane) *jaeger.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := p.Jaeger(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// waitTrace is plane.WaitTrace, failing the test on a timeout.
func waitTrace(tb testing.TB, c *jaeger.Client, traceID string, timeout time.Duration, want map[string]func(*model.Span) bool) *model.Trace {
	tb.Helper()
	tr, err := plane.WaitTrace(context.Background(), c, traceID, timeout, want)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}

// describe lists a trace's spans for failure messages and logs.
func describe(tr *model.Trace) string { return plane.DescribeTrace(tr) }

func serviceIs(name string) func(*model.Span) bool {
	return func(s *model.Span) bool { return s.Process != nil && s.Process.ServiceName == name }
}

func logf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	tb.Logf(format, args...)
	if os.Getenv("KNTRACE_E2E_QUIET") == "" {
		// Scenario figures also go to stdout so that make test shows them.
		os.Stdout.WriteString("    e2e: " + strings.TrimSpace(fmt.Sprintf(format, args...)) + "\n")
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// parentIs reports whether s's parent is the span with hex ID spanID.
func parentIs(s *model.Span, spanID string) bool {
	id, err := model.SpanIDFromString(spanID)
	return err == nil && s.ParentSpanID() == id
}
