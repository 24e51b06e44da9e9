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

// waitTrace polls Jaeger until the trace holds spans matching every check
// in want (keyed by a description), or fails after timeout.
func waitTrace(tb testing.TB, c *jaeger.Client, traceID string, timeout time.Duration, want map[string]func(*model.Span) bool) *model.Trace {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last *model.Trace
	var lastErr error
	var missing []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		tr, err := c.GetTrace(ctx, traceID)
		cancel()
		lastErr = err
		if err == nil {
			last = tr
			missing = missing[:0]
			for what, match := range want {
				found := false
				for _, s := range tr.Spans {
					if match(s) {
						found = true
						break
					}
				}
				if !found {
					missing = append(missing, what)
				}
			}
			if len(missing) == 0 {
				return tr
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("trace %s in Jaeger after %s: missing %v (last query error: %v); spans:\n%s", traceID, timeout, missing, lastErr, describe(last))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// describe lists a trace's spans for failure messages and logs.
func describe(tr *model.Trace) string {
	if tr == nil {
		return "  (no trace)"
	}
	var b strings.Builder
	for _, s := range tr.Spans {
		parent := "root"
		if id := s.ParentSpanID(); id != 0 {
			parent = id.String()
		}
		svc := ""
		if s.Process != nil {
			svc = s.Process.ServiceName
		}
		b.WriteString("  " + svc + " " + s.OperationName + " span=" + s.SpanID.String() + " parent=" + parent + " " + s.Duration.String() + "\n")
	}
	return b.String()
}

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
