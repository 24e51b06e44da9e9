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

package cluster

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	model "github.com/jaegertracing/jaeger-idl/model/v1"
)

const polyglotService = "polyglot-relay"

// testPolyglotRelay deploys samples/polyglot-relay with `ko apply`: an app
// with the plain OpenTelemetry SDK and no tracing configuration in its
// code, which exports to the SDK's default, localhost:4318, where kntrace's
// queue-proxy relays. From zero, one W3C request is one trace with no
// orphan: the activator's span under the client's, the queue-proxy's
// under it, the app's server span under the queue-proxy's, named by the
// OTEL_SERVICE_NAME kntrace's webhook gave the pod (the plain SDK reads
// it), and its render span under that.
func testPolyglotRelay(t *testing.T, c *Cluster) {
	ctx := context.Background()
	if err := c.withToolsLock(ctx, func() error {
		_, err := c.Ko(ctx, "kntrace", "apply", "-f", "samples/polyglot-relay/service.yaml")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitServiceReady(ctx, sampleNS, polyglotService, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitRoute(ctx, sampleNS, polyglotService, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNoPods(ctx, sampleNS, "serving.knative.dev/service="+polyglotService, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	jc, err := c.DialJaeger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()

	traceID, spanID := newTraceParent(t)
	req, err := c.NewIngressRequest(ctx, http.MethodGet, sampleNS, polyglotService, "/")
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", "00-"+traceID+"-"+spanID+"-01")
	sent := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ttfb := time.Since(sent)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / of %s from zero: %s, want 200", polyglotService, resp.Status)
	}
	t.Logf("%s from zero through Traefik: 200, time to first byte %s", polyglotService, ttfb.Round(time.Millisecond))

	var tr *model.Trace
	if err := c.poll(ctx, time.Minute, "trace "+traceID+" whole in Jaeger", func(ctx context.Context) (string, error) {
		got, err := jc.GetTrace(ctx, traceID)
		if err != nil {
			return err.Error(), nil
		}
		tr = got
		return strings.Join(checkPolyglotTree(tr, spanID), "; "), nil
	}); err != nil {
		t.Fatalf("%v\nits spans (hop, operation, span, parent):\n%s", err, describeHops(tr))
	}
	t.Logf("%s: trace %s, %d spans:\n%s", polyglotService, traceID, len(tr.Spans), describeHops(tr))
}

// checkPolyglotTree returns what the sample's trace lacks; see
// testPolyglotRelay.
func checkPolyglotTree(tr *model.Trace, clientSpan string) []string {
	problems := checkDataPlaneTree(tr, clientSpan, polyglotService, true)
	byID := spansByID(tr)
	server := func(s *model.Span) bool {
		p := byID[s.ParentSpanID()]
		return hop(s) == hopApp+":"+polyglotService && isServerSpan(s) && p != nil && hop(p) == hopQueueProxy+":"+polyglotService
	}
	if !slices.ContainsFunc(tr.Spans, server) {
		problems = append(problems, "no server span of the app (service "+polyglotService+") under the queue-proxy's")
	}
	if !slices.ContainsFunc(tr.Spans, func(s *model.Span) bool {
		p := byID[s.ParentSpanID()]
		return s.OperationName == "render" && p != nil && server(p)
	}) {
		problems = append(problems, "no render span under the app's server span")
	}
	return problems
}

func isServerSpan(s *model.Span) bool {
	kind, ok := s.GetSpanKind()
	return ok && kind == model.SpanKindServer
}
