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

package queueproxy

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	pkgnet "knative.dev/pkg/network"
)

// Transport is the transport to the app: Knative's (HTTP/1 and h2c, idle
// connections sized by CONTAINER_CONCURRENCY as upstream) inside otelhttp
// with the bridge propagator, client spans named "<METHOD> <revision> app".
func (q *QueueProxy) Transport(tp trace.TracerProvider) http.RoundTripper {
	maxIdle := 1000 // upstream's value for container concurrency 0
	if cc, err := strconv.Atoi(q.cfg.getenv("CONTAINER_CONCURRENCY")); err == nil && cc > 0 {
		maxIdle = cc
	}
	names := map[string]string{}
	suffix := " app"
	if q.revision != "" {
		suffix = " " + q.revision + " app"
	}
	for _, m := range httpMethods {
		names[m] = m + suffix
	}
	return otelhttp.NewTransport(pkgnet.NewProxyAutoTransport(maxIdle, maxIdle),
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(otel.GetMeterProvider()),
		otelhttp.WithPropagators(otelprop.TextMapPropagator(q.propagator)),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if n, ok := names[r.Method]; ok {
				return n
			}
			return "HTTP" + suffix
		}),
	)
}
