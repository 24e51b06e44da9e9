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

package propagation_test

import (
	"context"
	"fmt"
	"net/http"

	"go.opentelemetry.io/otel"
	otelprop "go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

// An application wires the propagator from OTEL_PROPAGATORS once at start
// up; otelhttp and every other instrumentation then use it through otel.
func ExampleFromEnv() {
	p, err := propagation.FromEnv() // e.g. OTEL_PROPAGATORS=tracecontext,baggage,b3multi
	if err != nil {
		fmt.Println(err) // names the bad value and lists the accepted ones
		return
	}
	otel.SetTextMapPropagator(p)
	fmt.Println("configured")
	// Output: configured
}

// The bridge (New without options) reads any format and writes W3C, so a
// B3-speaking client keeps its trace across Knative.
func ExampleNew() {
	in := http.Header{}
	in.Set("X-B3-TraceId", "a3ce929d0e0e4736")
	in.Set("X-B3-SpanId", "00f067aa0ba902b7")
	in.Set("X-B3-Sampled", "1")

	p := propagation.New()
	ctx := p.Extract(context.Background(), otelprop.HeaderCarrier(in))
	fmt.Println(trace.SpanContextFromContext(ctx).TraceID())

	out := http.Header{}
	p.Inject(ctx, otelprop.HeaderCarrier(out))
	fmt.Println(out.Get("traceparent"))
	// Output:
	// 0000000000000000a3ce929d0e0e4736
	// 00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01
}

func ExampleParse() {
	p, err := propagation.Parse("tracecontext, baggage, b3multi")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.InjectFormats(), p.Fields())

	_, err = propagation.Parse("tracecontext,zipkin")
	fmt.Println(err)
	// Output:
	// [tracecontext baggage b3multi] [traceparent tracestate baggage x-b3-traceid x-b3-spanid x-b3-sampled x-b3-flags]
	// unknown propagator "zipkin" (accepted: tracecontext, baggage, b3, b3multi, jaeger, none)
}
