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

package activatorhooks_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kntrace/kntrace/activatorhooks"
)

// benchChains returns upstream's activator chain and kntrace's, over the
// same throttler and transport, tracing every request (the SDK records the
// spans and drops them at End: no exporter).
func benchChains(b *testing.B, dest string, rt http.RoundTripper) map[string]http.Handler {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	hooks := activatorhooks.New(activatorhooks.WithTracerProvider(tp))
	// Each chain captures the global propagator when it is built, as in
	// the activator.
	setGlobalPropagator(b, propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	up := upstreamChain(tp, fakeThrottler{dest: dest}, rt)
	setGlobalPropagator(b, hooks.Propagator())
	kn := kntraceChain(hooks, tp, fakeThrottler{dest: dest}, rt)
	return map[string]http.Handler{"upstream": up, "kntrace": kn}
}

func runChain(b *testing.B, h http.Handler) {
	b.ReportAllocs()
	req := httptest.NewRequest(http.MethodGet, "http://hello.demo.example.com/", nil)
	req.Header.Set("Traceparent", "00-"+w3cTrace+"-"+w3cSpan+"-01")
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status = %d", rec.Code)
		}
	}
}

// BenchmarkActivatorHandler: a warm request through the activator's
// handler to a queue-proxy stand-in on loopback (httptest), upstream's
// chain against kntrace's.
func BenchmarkActivatorHandler(b *testing.B) {
	qp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello from the pod")
	}))
	defer qp.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 100}
	defer tr.CloseIdleConnections()
	chains := benchChains(b, strings.TrimPrefix(qp.URL, "http://"), tr)
	for _, name := range []string{"upstream", "kntrace"} {
		b.Run(name, func(b *testing.B) { runChain(b, chains[name]) })
	}
}

// BenchmarkActivatorHandlerOverhead: the same without a network hop (the
// transport answers in memory), so the hooks' cost is not hidden by it.
func BenchmarkActivatorHandlerOverhead(b *testing.B) {
	rt := roundTripperFunc(func(*http.Request) (*http.Response, error) { return okResponse(), nil })
	chains := benchChains(b, "10.0.0.1:8012", rt)
	for _, name := range []string{"upstream", "kntrace"} {
		b.Run(name, func(b *testing.B) { runChain(b, chains[name]) })
	}
}
