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

package otlprelay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kntrace/kntrace/backoff"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/internal/selfusage"
)

// benchPayload is a protobuf request of n spans.
func benchPayload(b *testing.B, n int) []byte {
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("GET /api/v1/items/%d", i))
	}
	pb, err := proto.Marshal(otlpRequest("bench", 9, names...))
	if err != nil {
		b.Fatal(err)
	}
	return pb
}

// BenchmarkRelay measures the relay end to end against a fast collector
// (spans/s, MB/s of protobuf), and its memory while the collector is down and
// the queue is full (bound, heap growth, overhead above the bound).
func BenchmarkRelay(b *testing.B) {
	const spansPerRequest = 100
	b.Run("throughput", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
		defer srv.Close()
		r, err := New(WithAddress("127.0.0.1:0"), WithCollector(conventions.ProtocolHTTPProtobuf, srv.URL), WithLogger(quiet),
			WithEnv(func(string) string { return "" }), WithDrainQuietPeriod(time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Start(); err != nil {
			b.Fatal(err)
		}
		url := "http://" + r.Addr() + conventions.TracesPath
		body := benchPayload(b, spansPerRequest)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				for {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					req.Header.Set("Content-Type", ContentTypeProtobuf)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						break
					}
					time.Sleep(time.Millisecond) // 429: the queue is full
				}
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Drain(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		st := r.Stats()
		if st.ForwardedSpans != uint64(b.N*spansPerRequest) {
			b.Fatalf("forwarded %d spans, want %d", st.ForwardedSpans, b.N*spansPerRequest)
		}
		b.ReportMetric(float64(st.ForwardedSpans)/elapsed.Seconds(), "spans/s")
		_ = r.Shutdown(ctx)
		client.CloseIdleConnections()
	})

	b.Run("overload", func(b *testing.B) {
		const bound = 8 << 20
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		body := benchPayload(b, spansPerRequest)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rssBefore := selfusage.RSS()
		r, err := New(WithAddress("127.0.0.1:0"), WithCollector(conventions.ProtocolHTTPProtobuf, srv.URL), WithLogger(quiet),
			WithEnv(func(string) string { return "" }), WithQueueBytes(bound),
			WithBackoff(backoff.Policy{Initial: time.Second, Max: time.Second, Multiplier: 1}))
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Start(); err != nil {
			b.Fatal(err)
		}
		url := "http://" + r.Addr() + conventions.TracesPath
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		b.ReportAllocs()
		// Fill well past the bound: the overflow must be answered 429.
		n := max(b.N, 3*bound/len(body))
		rejected := 0
		for range n {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", ContentTypeProtobuf)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				rejected++
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := r.Stats()
		if st.QueuedBytes > bound || rejected == 0 {
			b.Fatalf("queued %d bytes with a %d bound, %d rejected", st.QueuedBytes, bound, rejected)
		}
		heap := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		b.ReportMetric(float64(bound)/(1<<20), "bound-MB")
		b.ReportMetric(heap, "heap-MB")
		b.ReportMetric(heap-float64(bound)/(1<<20), "overhead-MB")
		b.ReportMetric(float64(selfusage.RSS()-rssBefore)/(1<<20), "rss-growth-MB")
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = r.Shutdown(ctx)
		client.CloseIdleConnections()
	})
}

// BenchmarkDecodePayload is the relay's per-request decoding cost.
func BenchmarkDecodePayload(b *testing.B) {
	pbBody := benchPayload(b, 100)
	var req = otlpRequest("bench", 9, "a", "b")
	jsBody, _ := otlpJSON(req)
	for _, c := range []struct {
		name, ct string
		body     []byte
	}{{"protobuf", ContentTypeProtobuf, pbBody}, {"json", ContentTypeJSON, jsBody}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := DecodePayload(c.body, c.ct, "", 1<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
