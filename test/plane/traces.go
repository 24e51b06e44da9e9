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

package plane

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"

	"github.com/kntrace/kntrace/jaeger"
)

// WaitTrace polls Jaeger until trace traceID holds a span matching every
// check in want (keyed by a description), or fails after timeout with the
// checks still missing and the spans Jaeger had.
func WaitTrace(ctx context.Context, c *jaeger.Client, traceID string, timeout time.Duration, want map[string]func(*model.Span) bool) (*model.Trace, error) {
	deadline := time.Now().Add(timeout)
	var last *model.Trace
	var lastErr error
	for {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		tr, err := c.GetTrace(qctx, traceID)
		cancel()
		lastErr = err
		var missing []string
		if err == nil {
			last = tr
		}
		for what, match := range want {
			if err != nil || !slices.ContainsFunc(tr.Spans, match) {
				missing = append(missing, what)
			}
		}
		if len(missing) == 0 {
			return tr, nil
		}
		if time.Now().After(deadline) {
			slices.Sort(missing)
			return last, fmt.Errorf("trace %s in Jaeger after %s: missing %s (last query error: %v); spans:\n%s",
				traceID, timeout, strings.Join(missing, ", "), lastErr, DescribeTrace(last))
		}
		select {
		case <-ctx.Done():
			return last, errors.Join(ctx.Err(), fmt.Errorf("trace %s: missing %s", traceID, strings.Join(missing, ", ")))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// DescribeTrace lists a trace's spans, one a line, with their service,
// parent, duration and kntrace/faas attributes, for failure messages.
func DescribeTrace(tr *model.Trace) string {
	if tr == nil {
		return "  (no trace)"
	}
	var b strings.Builder
	for _, s := range tr.Spans {
		svc := ""
		if s.Process != nil {
			svc = s.Process.ServiceName
		}
		parent := "root"
		if id := s.ParentSpanID(); id != 0 {
			parent = id.String()
		}
		fmt.Fprintf(&b, "  %s %q span=%s parent=%s %s", svc, s.OperationName, s.SpanID, parent, s.Duration)
		for _, kv := range s.Tags {
			if strings.HasPrefix(kv.Key, "kntrace.") || strings.HasPrefix(kv.Key, "faas.") {
				fmt.Fprintf(&b, " %s=%v", kv.Key, kv.Value())
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
