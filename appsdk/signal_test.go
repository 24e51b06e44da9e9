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

package appsdk

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/backends"
	"github.com/kntrace/kntrace/test/proc"
)

// helperEnv makes the test binary run helperApp instead of the tests.
const helperEnv = "KNTRACE_APPSDK_HELPER"

// helperApp is a Knative app: it starts the SDK with SIGTERM draining, makes
// a trace of KNTRACE_HELPER_SPANS spans, prints its ID and waits for SIGTERM.
func helperApp() {
	s, err := Start(context.Background(), WithSignalDrain(20*time.Second))
	if err != nil {
		fmt.Println("start error:", err)
	}
	n, _ := strconv.Atoi(os.Getenv("KNTRACE_HELPER_SPANS"))
	tr := s.TracerProvider().Tracer("helper")
	ctx, root := tr.Start(context.Background(), "root")
	for i := range n - 1 {
		_, c := tr.Start(ctx, fmt.Sprintf("child-%03d", i))
		c.End()
	}
	root.End()
	fmt.Printf("ready %s\n", root.SpanContext().TraceID())
	select {}
}

// TestSIGTERMDeliversPendingSpans runs an app process, as PID 1 of its own
// PID namespace like a container's entrypoint, whose spans are all still
// buffered (the collector is down and the batch delay is long), sends it
// SIGTERM, starts the collector 2 s later, and checks that the app delivered
// every span within its 20 s drain and then exited with status 0.
func TestSIGTERMDeliversPendingSpans(t *testing.T) {
	stack := backends.Start(t, false)
	q, err := jaeger.Dial(context.Background(), stack.Jaeger.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	const n = 200
	service := "kntrace-sigterm-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	p, err := proc.Start("app", os.Args[0], []string{"-test.run=^$"}, proc.WithLogDir(t.TempDir()),
		proc.WithGrace(30*time.Second), proc.WithPIDNamespace(),
		proc.WithEnv(helperEnv+"=1", "KNTRACE_HELPER_SPANS="+strconv.Itoa(n),
			conventions.EnvEndpoint+"=http://"+stack.Collector.HTTP, conventions.EnvServiceName+"="+service, "OTEL_BSP_SCHEDULE_DELAY=600000"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	var traceID string
	if err := p.WaitFor(30*time.Second, "app ready", func(context.Context) error {
		for line := range strings.SplitSeq(p.LogTail(20), "\n") {
			if id, ok := strings.CutPrefix(line, "ready "); ok {
				traceID = id
				return nil
			}
		}
		return fmt.Errorf("no ready line yet")
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sigAt := time.Now()
	// The collector comes up 2 s into the app's drain: this wait is the delay
	// being tested.
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := stack.Collector.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(25 * time.Second):
		t.Fatalf("app did not exit within 25s of SIGTERM; log:\n%s", p.LogTail(20))
	}
	t.Logf("app exited %s after SIGTERM", time.Since(sigAt).Round(time.Millisecond))
	if _, err := p.Exited(); err != nil {
		t.Errorf("app exit = %v, want status 0 after the drain; log:\n%s", err, p.LogTail(20))
	}
	backends.WaitSpans(t, q, traceID, n)
}
