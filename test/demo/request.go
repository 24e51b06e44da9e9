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

package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"time"
)

// traceFormat is how the demo's client sends its trace context.
type traceFormat int

const (
	// b3Multi is Zipkin's X-B3-TraceId, X-B3-SpanId and X-B3-Sampled.
	b3Multi traceFormat = iota
	// w3c is W3C Trace Context's traceparent.
	w3c
)

// requestTimeout bounds a request from zero (the pods start while it waits).
const requestTimeout = 2 * time.Minute

// request sends GET / to the Knative Service svc through Traefik, as a
// client outside the cluster would, with a new sampled trace context in the
// given format; it prints the headers, the response and the time to first
// byte, and returns the trace ID.
func (d *demo) request(ctx context.Context, svc string, format traceFormat) (string, error) {
	traceID, spanID := randomHex(16), randomHex(8)
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := d.c.NewIngressRequest(rctx, http.MethodGet, sampleNS, svc, "/")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(d.out, "    GET http://%s/ (Host: %s)\n", d.c.IngressAddr, req.Host)
	switch format {
	case b3Multi:
		req.Header.Set("X-B3-TraceId", traceID)
		req.Header.Set("X-B3-SpanId", spanID)
		req.Header.Set("X-B3-Sampled", "1")
		fmt.Fprintf(d.out, "    X-B3-TraceId: %s\n    X-B3-SpanId: %s\n    X-B3-Sampled: 1\n", traceID, spanID)
	case w3c:
		req.Header.Set("traceparent", "00-"+traceID+"-"+spanID+"-01")
		fmt.Fprintf(d.out, "    traceparent: 00-%s-%s-01\n", traceID, spanID)
	}
	var first time.Time
	req = req.WithContext(httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}))
	start := time.Now()
	// No proxy from the environment: Traefik is on loopback.
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return "", fmt.Errorf("GET / of %s through Traefik at %s: %w", svc, d.c.IngressAddr, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	fmt.Fprintf(d.out, "    %s %q, time to first byte %s (cold start)\n", resp.Status, strings.TrimSpace(string(body)), first.Sub(start).Round(time.Millisecond))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("GET / of %s through Traefik: %s %q\n%s", svc, resp.Status, body,
			d.c.DescribePods(ctx, sampleNS, "serving.knative.dev/service="+svc))
	}
	return traceID, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
