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

package spanbuffer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/internal/eventually"
	"github.com/kntrace/kntrace/internal/leakcheck"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakcheck.IdleHTTP()...)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeExporter fails while failing is set and records what it exported.
type fakeExporter struct {
	mu      sync.Mutex
	failing bool
	block   bool // ExportSpans waits for ctx
	names   []string
	calls   []time.Time
}

func (f *fakeExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	failing, block := f.failing, f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	if failing {
		return errors.New("collector down")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range spans {
		f.names = append(f.names, s.Name())
	}
	return nil
}

func (f *fakeExporter) Shutdown(context.Context) error { return nil }

func (f *fakeExporter) set(failing, block bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing, f.block = failing, block
}

func (f *fakeExporter) exported() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.names...)
}

func (f *fakeExporter) callTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls...)
}

func spanNames(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("span-%04d", i))
	}
	return out
}

func makeSpans(tp *sdktrace.TracerProvider, from, to int, attrs ...attribute.KeyValue) {
	tr := tp.Tracer("test")
	for _, name := range spanNames(from, to) {
		_, s := tr.Start(context.Background(), name)
		s.SetAttributes(attrs...)
		s.End()
	}
}

func newTestBuffer(t *testing.T, exp sdktrace.SpanExporter, opts ...Option) (*Buffer, *sdktrace.TracerProvider) {
	t.Helper()
	opts = append([]Option{WithLogger(quiet), WithEnv(func(string) string { return "" }),
		WithBackoff(backoff.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, Multiplier: 2, Jitter: 0.2})}, opts...)
	b := New(exp, opts...)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	t.Cleanup(func() {
		// Tests that need the spans flush themselves; a failing exporter
		// must not hold every test up for long.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = tp.Shutdown(ctx)
	})
	return b, tp
}

func TestBufferHoldsUntilExporterRecovers(t *testing.T) {
	exp := &fakeExporter{failing: true}
	b, tp := newTestBuffer(t, exp, WithBatchSize(7), WithBatchTimeout(time.Millisecond))
	makeSpans(tp, 0, 100)
	eventually.True(t, 5*time.Second, "failed export attempts", func() bool { return b.Stats().Retries >= 3 })
	if got := exp.exported(); len(got) != 0 {
		t.Fatalf("exported %d spans while the exporter failed", len(got))
	}
	st := b.Stats()
	if st.Buffered != 100 || st.Received != 100 || st.Dropped != 0 {
		t.Fatalf("while failing: stats %+v, want 100 received and buffered, none dropped", st)
	}
	exp.set(false, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spanNames(0, 100), exp.exported()); diff != "" {
		t.Errorf("exported spans (-want +got):\n%s", diff)
	}
	st = b.Stats()
	if st.Exported != 100 || st.Buffered != 0 || st.Bytes != 0 || st.Dropped != 0 {
		t.Errorf("after recovery: stats %+v, want 100 exported, nothing held", st)
	}
}

func TestBufferDropsOldestWhenFull(t *testing.T) {
	one := spanSizeOf(t)
	tests := []struct {
		name        string
		opts        []Option
		produced    int
		wantKept    int
		wantDropped uint64
	}{
		{name: "count bound", opts: []Option{WithMaxSpans(10)}, produced: 25, wantKept: 10, wantDropped: 15},
		{name: "byte bound", opts: []Option{WithMaxBytes(4*one + one/2)}, produced: 25, wantKept: 4, wantDropped: 21},
		{name: "fits", opts: []Option{WithMaxSpans(30)}, produced: 25, wantKept: 25, wantDropped: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := &fakeExporter{failing: true}
			opts := append([]Option{WithBatchSize(3), WithBatchTimeout(time.Hour)}, tt.opts...)
			b, tp := newTestBuffer(t, exp, opts...)
			makeSpans(tp, 0, tt.produced)
			// Spans evicted from a batch whose failing export is still in
			// flight count as dropped only when it ends (see Stats).
			var st Stats
			eventually.True(t, 5*time.Second, "the counters to add up once the export in flight ends", func() bool {
				st = b.Stats()
				return st.Received == st.Exported+st.Dropped+uint64(st.Buffered)
			})
			if st.Dropped != tt.wantDropped || st.Buffered != tt.wantKept || st.Received != uint64(tt.produced) {
				t.Fatalf("stats %+v, want %d received, %d dropped, %d buffered", st, tt.produced, tt.wantDropped, tt.wantKept)
			}
			if st.Bytes != tt.wantKept*one {
				t.Errorf("buffered bytes %d, want %d", st.Bytes, tt.wantKept*one)
			}
			exp.set(false, false)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := b.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(spanNames(tt.produced-tt.wantKept, tt.produced), exp.exported()); diff != "" {
				t.Errorf("exported (-want +got):\n%s", diff)
			}
			st = b.Stats()
			if st.Received != st.Exported+st.Dropped+uint64(st.Buffered) {
				t.Errorf("counters do not add up: %+v", st)
			}
		})
	}
}

// spanSizeOf is the estimate of the spans makeSpans makes.
func spanSizeOf(t *testing.T) int {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	makeSpans(tp, 0, 1)
	return SpanSize(exp.GetSpans().Snapshots()[0])
}

func TestSpanSize(t *testing.T) {
	tests := []struct {
		name  string
		attrs []attribute.KeyValue
		want  int
	}{
		{name: "bare", want: spanOverhead + len("s")},
		{name: "string attribute", attrs: []attribute.KeyValue{attribute.String("key", "value")},
			want: spanOverhead + 1 + attrOverhead + 3 + 5},
		{name: "slice attribute", attrs: []attribute.KeyValue{attribute.Int64Slice("ks", []int64{1, 2, 3})},
			want: spanOverhead + 1 + attrOverhead + 2 + 24},
		{name: "string slice", attrs: []attribute.KeyValue{attribute.StringSlice("k", []string{"ab", "c"})},
			want: spanOverhead + 1 + attrOverhead + 1 + 16 + 2 + 16 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			_, s := tp.Tracer("t").Start(context.Background(), "s")
			s.SetAttributes(tt.attrs...)
			s.End()
			if got := SpanSize(exp.GetSpans().Snapshots()[0]); got != tt.want {
				t.Errorf("SpanSize = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("events and links", func(t *testing.T) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		_, s := tp.Tracer("t").Start(context.Background(), "s")
		s.AddEvent("ev", trace.WithAttributes(attribute.Bool("b", true)))
		s.End()
		want := spanOverhead + 1 + eventOverhead + 2 + attrOverhead + 1
		if got := SpanSize(exp.GetSpans().Snapshots()[0]); got != want {
			t.Errorf("SpanSize = %d, want %d", got, want)
		}
	})
}

func TestBufferOnEndNeverBlocks(t *testing.T) {
	exp := &fakeExporter{block: true}
	b, tp := newTestBuffer(t, exp, WithBatchSize(10), WithBatchTimeout(time.Millisecond),
		WithMaxSpans(1000), WithExportTimeout(time.Hour))
	// The first batch's export hangs before the rest are ended.
	makeSpans(tp, 0, 10)
	eventually.True(t, 5*time.Second, "the first export to start", func() bool { return len(exp.callTimes()) > 0 })
	done := make(chan struct{})
	go func() {
		makeSpans(tp, 10, 20000)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ending 20000 spans with a hung exporter took more than 10s: OnEnd blocks")
	}
	st := b.Stats()
	// The hung batch's spans were given up to make room; they are counted
	// when its export ends.
	if inFlight := st.Received - st.Dropped - uint64(st.Buffered); st.Received != 20000 || st.Buffered != 1000 || inFlight != 10 {
		t.Errorf("stats %+v: want 20000 received, 1000 held, 10 given up in flight, the rest dropped", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.ForceFlush(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still held") {
		t.Errorf("ForceFlush with a hung exporter = %v, want a deadline error naming the held spans", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ForceFlush took %s past a 100ms deadline", d)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	start = time.Now()
	if err := b.Shutdown(ctx2); err == nil {
		t.Error("Shutdown with spans left = nil, want an error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %s past a 100ms deadline", d)
	}
}

func TestBufferRetriesWithBackoff(t *testing.T) {
	exp := &fakeExporter{failing: true}
	bo := backoff.Policy{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond, Multiplier: 2, Jitter: 0.25}
	b, tp := newTestBuffer(t, exp, WithBatchSize(1), WithBackoff(bo))
	makeSpans(tp, 0, 1)
	eventually.True(t, 5*time.Second, "5 export attempts", func() bool { return len(exp.callTimes()) >= 5 })
	calls := exp.callTimes()
	for i := 1; i < 5; i++ {
		gap := calls[i].Sub(calls[i-1])
		want := bo.Delay(i, 0) // the shortest the i-th wait may be
		if gap < want {
			t.Errorf("wait before attempt %d = %s, want at least %s", i+1, gap, want)
		}
	}
	if gap := calls[4].Sub(calls[3]); gap < 60*time.Millisecond {
		t.Errorf("fourth wait %s did not grow to the 80ms cap (less jitter)", gap)
	}
	if r := b.Stats().Retries; r < 4 {
		t.Errorf("Retries = %d, want at least 4", r)
	}
	exp.set(false, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestBufferExportsInBatchesWhenHealthy(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	b, tp := newTestBuffer(t, exp, WithBatchSize(10), WithBatchTimeout(50*time.Millisecond))
	makeSpans(tp, 0, 25)
	// 20 go at once in two full batches; the last 5 after the batch timeout.
	eventually.True(t, 5*time.Second, "25 spans exported", func() bool { return len(exp.GetSpans()) == 25 })
	var got []string
	for _, s := range exp.GetSpans() {
		got = append(got, s.Name)
	}
	if diff := cmp.Diff(spanNames(0, 25), got); diff != "" {
		t.Errorf("exported (-want +got):\n%s", diff)
	}
	if st := b.Stats(); st.Exported != 25 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestBufferShutdownDeliversPending(t *testing.T) {
	exp := &fakeExporter{failing: true}
	b, tp := newTestBuffer(t, exp, WithBatchTimeout(time.Hour))
	makeSpans(tp, 0, 50)
	time.AfterFunc(50*time.Millisecond, func() { exp.set(false, false) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spanNames(0, 50), exp.exported()); diff != "" {
		t.Errorf("exported (-want +got):\n%s", diff)
	}
	makeSpans(tp, 50, 60) // after shutdown: not received
	if st := b.Stats(); st.Received != 50 || st.Exported != 50 {
		t.Errorf("stats %+v, want 50 received and exported", st)
	}
}

func TestBufferShutdownCountsLeftovers(t *testing.T) {
	exp := &fakeExporter{failing: true}
	b, tp := newTestBuffer(t, exp, WithBatchTimeout(time.Hour))
	makeSpans(tp, 0, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.Shutdown(ctx); err == nil || !strings.Contains(err.Error(), "30 spans dropped") {
		t.Errorf("Shutdown = %v, want an error naming 30 dropped spans", err)
	}
	if st := b.Stats(); st.Dropped != 30 || st.Buffered != 0 {
		t.Errorf("stats %+v, want 30 dropped", st)
	}
	_ = tp
}

func TestBufferEnvironment(t *testing.T) {
	env := map[string]string{EnvMaxSpans: "7", EnvMaxBytes: "not-a-number"}
	exp := &fakeExporter{failing: true}
	b, tp := newTestBuffer(t, exp, WithEnv(func(k string) string { return env[k] }), WithBatchTimeout(time.Hour))
	makeSpans(tp, 0, 10)
	if st := b.Stats(); st.Buffered != 7 || st.Dropped != 3 {
		t.Errorf("with %s=7: stats %+v, want 7 held and 3 dropped", EnvMaxSpans, st)
	}
	if b.cfg.maxBytes != DefaultMaxBytes {
		t.Errorf("invalid %s changed max bytes to %d", EnvMaxBytes, b.cfg.maxBytes)
	}
	b2, tp2 := newTestBuffer(t, exp, WithEnv(func(k string) string { return env[k] }), WithMaxSpans(9), WithBatchTimeout(time.Hour))
	makeSpans(tp2, 0, 10)
	if st := b2.Stats(); st.Buffered != 9 {
		t.Errorf("option over environment: %d held, want 9", st.Buffered)
	}
}

func TestBufferMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	exp := &fakeExporter{failing: true}
	b, tp := newTestBuffer(t, exp, WithMeterProvider(mp), WithMaxSpans(5), WithBatchSize(5), WithBatchTimeout(time.Millisecond))
	makeSpans(tp, 0, 8)
	eventually.True(t, 5*time.Second, "a failed export", func() bool { return b.Stats().Retries >= 1 })
	exp.set(false, false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				got[m.Name] = d.DataPoints[0].Value
			case metricdata.Gauge[int64]:
				got[m.Name] = d.DataPoints[0].Value
			}
		}
	}
	retries := got["kntrace.buffer.export.retries"]
	if retries < 1 {
		t.Errorf("retries metric = %d, want at least 1", retries)
	}
	want := map[string]int64{
		"kntrace.buffer.spans":          0,
		"kntrace.buffer.size":           0,
		"kntrace.buffer.spans.received": 8,
		"kntrace.buffer.spans.exported": 5,
		"kntrace.buffer.spans.dropped":  3,
		"kntrace.buffer.export.retries": retries,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

// TestBufferMemoryBound holds big spans while the exporter fails and checks
// the heap grows by no more than the byte bound plus a fixed overhead.
func TestBufferMemoryBound(t *testing.T) {
	const maxBytes = 2 << 20
	exp := &fakeExporter{failing: true}
	b, tp := newTestBuffer(t, exp, WithMaxBytes(maxBytes), WithBatchTimeout(time.Hour))
	payload := strings.Repeat("x", 4096)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	tr := tp.Tracer("test")
	for i := range 10000 {
		_, s := tr.Start(context.Background(), "big")
		s.SetAttributes(attribute.String("payload", fmt.Sprintf("%05d%s", i, payload))) // a string per span
		s.End()
		if st := b.Stats(); st.Bytes > maxBytes {
			t.Fatalf("buffer holds %d estimated bytes, over the %d bound", st.Bytes, maxBytes)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	const overhead = 1 << 20
	if grown > maxBytes+overhead {
		t.Errorf("heap grew by %d bytes holding spans, want at most %d (bound) + %d", grown, maxBytes, overhead)
	}
	st := b.Stats()
	if st.Dropped == 0 || st.Received != st.Dropped+uint64(st.Buffered) {
		t.Errorf("stats %+v", st)
	}
	t.Logf("10000 spans of ~4.5 KiB through a %d-byte buffer: %d held, %d dropped, heap +%d bytes", maxBytes, st.Buffered, st.Dropped, grown)
}

// gateExporter blocks its first call until released, then answers with the
// given result; later calls succeed.
type gateExporter struct {
	fakeExporter
	started  chan struct{}
	release  chan error
	firstOut atomic.Bool
}

func (g *gateExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if g.firstOut.CompareAndSwap(false, true) {
		close(g.started)
		if err := <-g.release; err != nil {
			return err
		}
	}
	return g.fakeExporter.ExportSpans(ctx, spans)
}

// TestBufferEvictsTheBatchInFlight fills the buffer while its oldest span is
// being exported: that span is given up first, and counted as dropped only if
// its export fails.
func TestBufferEvictsTheBatchInFlight(t *testing.T) {
	tests := []struct {
		name         string
		result       error
		wantExported []string
		wantDropped  uint64
	}{
		{name: "export fails", result: errors.New("down"), wantExported: spanNames(20, 30), wantDropped: 20},
		{name: "export succeeds", result: nil, wantExported: append(spanNames(0, 1), spanNames(20, 30)...), wantDropped: 19},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := &gateExporter{started: make(chan struct{}), release: make(chan error)}
			b, tp := newTestBuffer(t, exp, WithMaxSpans(10), WithBatchSize(5), WithBatchTimeout(time.Millisecond))
			makeSpans(tp, 0, 1)
			select {
			case <-exp.started:
			case <-time.After(5 * time.Second):
				t.Fatal("first export did not start within 5s")
			}
			makeSpans(tp, 1, 30)
			if st := b.Stats(); st.Buffered != 10 {
				t.Errorf("while the first export is in flight: %+v, want 10 held", st)
			}
			exp.release <- tt.result
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := b.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantExported, exp.exported()); diff != "" {
				t.Errorf("exported (-want +got):\n%s", diff)
			}
			st := b.Stats()
			if st.Dropped != tt.wantDropped || st.Received != 30 || st.Received != st.Exported+st.Dropped || st.Bytes != 0 {
				t.Errorf("stats %+v, want %d dropped and the rest exported", st, tt.wantDropped)
			}
		})
	}
}
