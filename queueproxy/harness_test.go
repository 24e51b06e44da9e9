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
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
	netheader "knative.dev/networking/pkg/http/header"
	netstats "knative.dev/networking/pkg/http/stats"
	pkgnet "knative.dev/pkg/network"
	"knative.dev/pkg/observability/tracing"
	"knative.dev/serving/pkg/activator"
	pkghttp "knative.dev/serving/pkg/http"
	"knative.dev/serving/pkg/queue"

	"github.com/kntrace/kntrace/coldstart"
	"github.com/kntrace/kntrace/internal/leakcheck"
	"github.com/kntrace/kntrace/queueproxy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakcheck.KnativeProcess()...)
}

const revision = "hello-00001"

// app is the user container: it records the trace headers it receives.
type app struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func newApp(t testing.TB) *app {
	a := &app{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.got = append(a.got, r.Header.Clone())
		a.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) port(t testing.TB) string {
	u, err := url.Parse(a.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(u.Host)
	return p
}

func (a *app) headers() []http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]http.Header(nil), a.got...)
}

// side builds the part of sharedmain's handler chain that tracing touches,
// in the same order: otelhttp server handler ("queue") → queue.ProxyHandler
// (kn.queueproxy.proxy, and kn.queueproxy.wait with container concurrency)
// → Defaults.ProxyHandler → the header-pruning reverse proxy on
// Defaults.Transport. kntrace's side installs what Option installs.
type side struct {
	name     string
	kntrace  bool
	exp      *tracetest.InMemoryExporter
	tp       *sdktrace.TracerProvider
	handler  http.Handler
	timeline *coldstart.Timeline
	qp       *queueproxy.QueueProxy
}

func newSide(t testing.TB, kntrace bool, cc int, a *app, sampler sdktrace.Sampler) *side {
	t.Helper()
	s := &side{name: "upstream", kntrace: kntrace, exp: tracetest.NewInMemoryExporter()}
	if kntrace {
		s.name = "kntrace"
	}
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(s.exp), sdktrace.WithSampler(sampler))
	t.Cleanup(func() { _ = s.tp.Shutdown(t.Context()) })

	env := map[string]string{"SERVING_REVISION": revision, "SERVING_NAMESPACE": "demo", "SERVING_POD": "hello-00001-deployment-abc"}
	var proxy http.Handler
	rp := pkghttp.NewHeaderPruningReverseProxy(net.JoinHostPort("127.0.0.1", a.port(t)), pkghttp.NoHostOverride, activator.RevisionHeaders, false)
	var prop otelprop.TextMapPropagator = tracing.DefaultTextMapPropagator()
	if kntrace {
		s.timeline = coldstart.NewTimeline(coldstart.WithSource(coldstart.SourceQueueProxy), coldstart.WithProcessStart(time.Now().Add(-2*time.Second)))
		s.timeline.MarkReadyAt(time.Now().Add(-time.Second))
		qp, err := queueproxy.Setup(queueproxy.WithEnv(func(k string) string { return env[k] }),
			queueproxy.WithPodInfoPath(t.TempDir()+"/annotations"), queueproxy.WithTimeline(s.timeline))
		if err != nil {
			t.Fatal(err)
		}
		s.qp = qp
		spans := queueproxy.NewSpanProcessor(revision)
		s.tp.RegisterSpanProcessor(spans)
		rp.Transport = qp.Transport(s.tp)
		prop = qp.Propagator()
		proxy = queueproxy.NewHandler(rp, spans, s.timeline, s.tp, coldstart.KnativeAttributes(func(k string) string { return env[k] }))
	} else {
		rp.Transport = otelhttp.NewTransport(pkgnet.NewProxyAutoTransport(1000, 1000), otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(prop))
		proxy = rp
	}
	if c, ok := rp.Transport.(interface{ CloseIdleConnections() }); ok {
		t.Cleanup(c.CloseIdleConnections)
	}
	var breaker *queue.Breaker
	if cc > 0 {
		breaker = queue.NewBreaker(queue.BreakerParams{QueueDepth: 10 * cc, MaxConcurrency: cc, InitialCapacity: cc})
	}
	h := queue.ProxyHandler(s.tp.Tracer(queueproxy.KnativeScope), breaker, netstats.NewRequestStats(time.Now()), proxy)
	s.handler = otelhttp.NewHandler(h, "queue", otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(prop),
		otelhttp.WithFilter(func(r *http.Request) bool { return !netheader.IsProbe(r) }))
	return s
}

// do sends one request through the side and returns the response.
func (s *side) do(t testing.TB, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://hello.demo.svc/greet", nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec.Result()
}

// byName indexes finished spans by name (the last one wins).
func byName(spans tracetest.SpanStubs) map[string]tracetest.SpanStub {
	m := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		m[s.Name] = s
	}
	return m
}
