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

package propagation

import (
	"encoding/binary"
	"math/rand/v2"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DebugIDAttribute is the span attribute Sampler sets on the root span a
// lone jaeger-debug-id header started: the key and value the Jaeger clients
// tag that span with.
const DebugIDAttribute = attribute.Key("jaeger-debug-id")

// deniedSpanContext is the remote parent Extract returns for a deny sent
// without trace IDs: a new random trace, not sampled. Any parent-based
// sampler then drops the request's spans and every format written
// downstream carries the deny, as Zipkin's B3 specification asks, without
// a sampler of kntrace's.
func deniedSpanContext() trace.SpanContext {
	var scc trace.SpanContextConfig
	for !scc.TraceID.IsValid() {
		binary.BigEndian.PutUint64(scc.TraceID[:8], rand.Uint64())
		binary.BigEndian.PutUint64(scc.TraceID[8:], rand.Uint64())
	}
	for !scc.SpanID.IsValid() {
		binary.BigEndian.PutUint64(scc.SpanID[:], rand.Uint64())
	}
	scc.Remote = true
	return trace.NewSpanContext(scc)
}

// Sampler returns an sdktrace.Sampler that lets base decide, except for the
// span that starts a request's trace when the request carried a sampling
// decision without trace IDs (SamplingOnly): a debug (b3: d, a lone
// X-B3-Flags: 1 or jaeger-debug-id) or an accept (b3: 1, a lone
// X-B3-Sampled: 1) samples that new root span, and a deny drops it whatever
// base is. A jaeger-debug-id is recorded on the root span as the
// jaeger-debug-id attribute. Spans below the root follow their parent
// through base, so base should be parent-based, as the OpenTelemetry
// default sampler is.
//
// Without this sampler a deny is still honoured by any parent-based sampler
// (Extract returns an unsampled remote parent for it), while an accept or a
// debug request without IDs leaves the new root to the local sampler.
func Sampler(base sdktrace.Sampler) sdktrace.Sampler { return sampler{base: base} }

type sampler struct{ base sdktrace.Sampler }

func (s sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	fl, _, debugID := stateFrom(p.ParentContext)
	if fl&(flagOnlyDeny|flagOnlyAccept|flagOnlyDebug) != 0 {
		psc := trace.SpanContextFromContext(p.ParentContext)
		switch {
		case fl&flagOnlyDeny != 0 && psc.IsRemote():
			return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: psc.TraceState()}
		case fl&(flagOnlyAccept|flagOnlyDebug) != 0 && !psc.IsValid():
			r := sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
			if debugID != "" {
				r.Attributes = []attribute.KeyValue{DebugIDAttribute.String(debugID)}
			}
			return r
		}
	}
	return s.base.ShouldSample(p)
}

func (s sampler) Description() string {
	return "kntrace.Sampler{" + s.base.Description() + "}"
}
