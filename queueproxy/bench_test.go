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

package queueproxy_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kntrace/kntrace/internal/selfusage"
)

// BenchmarkHandlerChain compares, in one process, the traced part of the
// queue-proxy's handler chain (server span, kn.queueproxy.proxy and .wait,
// the reverse proxy and client span to a loopback app) as kntrace builds it
// and as upstream does, with every request sampled and with none. Besides
// time, cpu-ns/op is the process's CPU time per request (the app's
// included, the same on both sides), which other load on the machine
// moves much less than time.
func BenchmarkHandlerChain(b *testing.B) {
	for _, tc := range []struct {
		name    string
		sampler sdktrace.Sampler
		flag    string // the caller's B3 sampling decision
	}{
		{name: "sampled", sampler: sdktrace.ParentBased(sdktrace.AlwaysSample()), flag: "1"},
		{name: "unsampled", sampler: sdktrace.ParentBased(sdktrace.NeverSample()), flag: "0"},
	} {
		for _, kntrace := range []bool{true, false} {
			a := newApp(b)
			s := newSide(b, kntrace, 1, a, tc.sampler)
			b.Run(tc.name+"/"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				req := httptest.NewRequest(http.MethodGet, "http://hello.demo.svc/greet", nil)
				req.Header.Set("b3", callerTrace+"-"+callerSpan+"-"+tc.flag)
				cpu := selfusage.CPUTime()
				for b.Loop() {
					rec := httptest.NewRecorder()
					s.handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
					s.exp.Reset()
				}
				b.ReportMetric(float64(selfusage.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
