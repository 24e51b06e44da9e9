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

package backends

import (
	"context"
	"testing"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/jaeger"
)

// Start starts a Stack for a test (Jaeger and, if startCollector, the
// Collector), failing the test with a hint to run `make tools` when a binary is
// missing, and stops everything when the test ends.
func Start(tb testing.TB, startCollector bool, opts ...Option) *Stack {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultJaegerReadyTimeout+DefaultCollectorReadyTimeout)
	defer cancel()
	s, err := StartStack(ctx, startCollector, append([]Option{WithLogDir(tb.TempDir())}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// WaitSpans polls Jaeger, bounded by 30 s, until it holds exactly want spans
// of the trace, and returns it; otherwise it fails the test saying how many
// it held. The poll interval is not synchronisation: the deadline is.
func WaitSpans(tb testing.TB, q *jaeger.Client, traceID string, want int) *model.Trace {
	tb.Helper()
	const timeout = 30 * time.Second
	deadline := time.Now().Add(timeout)
	for {
		tr, err := q.GetTrace(context.Background(), traceID)
		if err == nil && len(tr.Spans) == want {
			return tr
		}
		if time.Now().After(deadline) {
			got := 0
			if tr != nil {
				got = len(tr.Spans)
			}
			tb.Fatalf("trace %s: %d spans in Jaeger after %s, want %d (last error: %v)", traceID, got, timeout, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
