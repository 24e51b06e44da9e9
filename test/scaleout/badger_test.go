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

package scaleout_test

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/test/backends"
)

// waitWhole polls Jaeger, bounded by timeout, until every trace is there
// with all its spans and no orphan; it fails naming the first that is not.
func waitWhole(tb testing.TB, q *jaeger.Client, traces []*trace, timeout time.Duration) {
	tb.Helper()
	s := &stack{query: q}
	deadline := time.Now().Add(timeout)
	for _, tr := range traces {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			got, err := s.lookup(ctx, tr)
			cancel()
			if err == nil && !got.notFound && got.spans == spansPerTrace && got.orphans == 0 {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("trace %s not whole in Jaeger within %s: %+v, %v", tr.hexID(), timeout, got, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// dirBytes is the disk space the files under dir take (allocated blocks:
// Badger's files are sparse).
func dirBytes(tb testing.TB, dir string) int64 {
	tb.Helper()
	var n int64
	if err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestJaegerBadgerRestart is the fourth proof: Jaeger v2 with the
// shipped Badger configuration keeps every trace across a graceful restart
// (SIGTERM) and across a crash (SIGKILL).
func TestJaegerBadgerRestart(t *testing.T) {
	j, err := backends.NewJaeger(backends.WithLogDir(t.TempDir()),
		backends.WithJaegerConfig(shipped(t, backends.JaegerPatch, backends.JaegerConfigMap, backends.JaegerKey)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := j.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Stop)
	q, err := jaeger.Dial(ctx, j.QueryGRPC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 4))
	write := func(n int) []*trace {
		t.Helper()
		var traces []*trace
		for range n {
			traces = append(traces, newTrace(rng, coldStart, 1, time.Now()))
		}
		for i := 0; i < n; i += 50 {
			req, _ := request(traces[i:min(i+50, n)], 0)
			if err := export(ctx, "http://"+j.OTLPHTTP+"/v1/traces", req); err != nil {
				t.Fatalf("Jaeger refused an export: %v", err)
			}
		}
		return traces
	}
	before := write(200)
	waitWhole(t, q, before, 30*time.Second)

	for _, restart := range []struct {
		name string
		stop func()
	}{{"SIGTERM", j.Stop}, {"SIGKILL", j.Kill}} {
		t.Run(restart.name, func(t *testing.T) {
			restart.stop()
			if err := j.Start(ctx); err != nil {
				t.Fatal(err)
			}
			// The client redials the same address.
			waitWhole(t, q, before, 30*time.Second)
			before = append(before, write(200)...)
			waitWhole(t, q, before, 30*time.Second)
		})
	}
	spans := len(before) * spansPerTrace
	disk := dirBytes(t, j.StorageDir)
	t.Logf("%d traces (%d spans) returned after both restarts; Badger holds %d bytes on disk, %.0f per span (blocks allocated, before compaction)",
		len(before), spans, disk, float64(disk)/float64(spans))
	if disk == 0 {
		t.Errorf("nothing on disk under %s: Badger is not where the configuration says", j.StorageDir)
	}
}
