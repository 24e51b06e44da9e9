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
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	otelprop "go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kntrace/kntrace/propagation"
)

// extracted is what a conformance case checks after Extract.
type extracted struct {
	// TraceID and SpanID are the extracted span context's IDs, "" for none,
	// "new" for the random IDs of a deny sent without IDs.
	TraceID, SpanID          string
	Sampled, Debug, Deferred bool
	Decision                 propagation.Decision
	DebugID                  string
	// Baggage, when set, is the baggage the context must carry.
	Baggage map[string]string
}

func extractedFrom(ctx context.Context) extracted {
	sc := trace.SpanContextFromContext(ctx)
	e := extracted{
		Sampled:  sc.IsSampled(),
		Debug:    propagation.IsDebug(ctx),
		Deferred: propagation.IsDeferred(ctx),
		Decision: propagation.SamplingOnly(ctx),
		DebugID:  propagation.DebugID(ctx),
	}
	if sc.IsValid() {
		e.TraceID, e.SpanID = sc.TraceID().String(), sc.SpanID().String()
		if e.Decision == propagation.Deny {
			e.TraceID, e.SpanID = "new", "new"
		}
	}
	return e
}

// extractCase extracts headers with p from a MapCarrier and from an
// http.Header and compares with want.
func extractCase(t *testing.T, p *propagation.Propagator, headers map[string]string, want extracted) context.Context {
	t.Helper()
	var last context.Context
	for cname, mk := range carriers(headers) {
		ctx := p.Extract(context.Background(), mk())
		got := extractedFrom(ctx)
		if want.Baggage != nil {
			got.Baggage = bagValues(ctx)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s carrier %q (-want +got):\n%s", cname, headers, diff)
		}
		last = ctx
	}
	return last
}

const (
	// Envoy's span_context_extractor_test.cc IDs.
	envoyTraceID     = "0000000000000001"
	envoyTraceIDHigh = "0000000000000009"
	envoySpanID      = "0000000000000003"
	envoyParentID    = "0000000000000002"
	// Zipkin's b3-propagation README example.
	zipkinTraceID  = "80f198ee56343ba864fe8b2a57d3eff7"
	zipkinSpanID   = "e457b5a2e4d86bd1"
	zipkinParentID = "05e3ac9a4f6e3b90"
)

func TestB3Conformance(t *testing.T) {
	pad := func(id string) string { return strings.Repeat("0", 32-len(id)) + id }
	none := extracted{}
	deny := extracted{TraceID: "new", SpanID: "new", Decision: propagation.Deny}
	envoy := pad(envoyTraceID)
	envoy128 := envoyTraceIDHigh + envoyTraceID
	tests := []struct {
		name    string
		source  string
		headers map[string]string
		want    extracted
	}{
		// Zipkin's B3 specification.
		{name: "single with parent", source: "openzipkin/b3-propagation README, Single Header",
			headers: map[string]string{"b3": zipkinTraceID + "-" + zipkinSpanID + "-1-" + zipkinParentID},
			want:    extracted{TraceID: zipkinTraceID, SpanID: zipkinSpanID, Sampled: true}},
		{name: "single debug", source: "openzipkin/b3-propagation README, Sampling State",
			headers: map[string]string{"b3": zipkinTraceID + "-" + zipkinSpanID + "-d"},
			want:    extracted{TraceID: zipkinTraceID, SpanID: zipkinSpanID, Sampled: true, Debug: true}},
		{name: "single deny without IDs", source: "openzipkin/b3-propagation README, 'A deny decision encodes as b3: 0'",
			headers: map[string]string{"b3": "0"}, want: deny},
		{name: "multiple headers", source: "openzipkin/b3-propagation README, Single Header example",
			headers: map[string]string{"X-B3-TraceId": zipkinTraceID, "X-B3-ParentSpanId": zipkinParentID, "X-B3-SpanId": zipkinSpanID, "X-B3-Sampled": "1"},
			want:    extracted{TraceID: zipkinTraceID, SpanID: zipkinSpanID, Sampled: true}},
		{name: "multiple deny without IDs", source: "openzipkin/b3-propagation README, health check 'X-B3-Sampled: 0'",
			headers: map[string]string{"X-B3-Sampled": "0"}, want: deny},
		{name: "multiple defer", source: "openzipkin/b3-propagation README, TraceId and SpanId",
			headers: map[string]string{"X-B3-TraceId": "463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId": "a2fb4a1d1a96d312"},
			want:    extracted{TraceID: "463ac35c9f6413ad48485a3953bb6124", SpanID: "a2fb4a1d1a96d312", Deferred: true}},
		{name: "multiple debug without IDs", source: "openzipkin/b3-propagation README, Debug Flag",
			headers: map[string]string{"X-B3-Flags": "1"}, want: extracted{Debug: true, Decision: propagation.Debug}},
		{name: "multiple lenient true", source: "openzipkin/b3-propagation README, 'a lenient implementation may accept them'",
			headers: map[string]string{"X-B3-TraceId": zipkinTraceID, "X-B3-SpanId": zipkinSpanID, "X-B3-Sampled": "true"},
			want:    extracted{TraceID: zipkinTraceID, SpanID: zipkinSpanID, Sampled: true}},
		{name: "multiple nonsense parent", source: "openzipkin/b3-propagation README, 'X-B3-ParentSpanId: -' is malformed",
			headers: map[string]string{"X-B3-TraceId": zipkinTraceID, "X-B3-SpanId": zipkinSpanID, "X-B3-ParentSpanId": "-"}, want: none},

		// Envoy's B3 extractor.
		{name: "Largest", source: "envoy span_context_extractor_test.cc Largest",
			headers: map[string]string{"b3": envoy128 + "-" + envoySpanID + "-1-" + envoyParentID},
			want:    extracted{TraceID: envoy128, SpanID: envoySpanID, Sampled: true}},
		{name: "WithoutParentDebug", source: "envoy span_context_extractor_test.cc WithoutParentDebug",
			headers: map[string]string{"b3": envoy128 + "-" + envoySpanID + "-d"},
			want:    extracted{TraceID: envoy128, SpanID: envoySpanID, Sampled: true, Debug: true}},
		{name: "MalformedUuid", source: "envoy span_context_extractor_test.cc MalformedUuid",
			headers: map[string]string{"b3": "b970dafd-0d95-40aa-95d8-1d8725aebe40"}, want: none},
		{name: "MiddleOfString", source: "envoy span_context_extractor_test.cc MiddleOfString",
			headers: map[string]string{"b3": envoyTraceID + envoyTraceID + "-" + envoySpanID + ","}, want: none},
		{name: "DebugOnly", source: "envoy span_context_extractor_test.cc DebugOnly",
			headers: map[string]string{"b3": "d"}, want: extracted{Debug: true, Decision: propagation.Debug}},
		{name: "Sampled", source: "envoy span_context_extractor_test.cc Sampled",
			headers: map[string]string{"b3": "1"}, want: extracted{Decision: propagation.Accept}},
		{name: "SampledFalse", source: "envoy span_context_extractor_test.cc SampledFalse",
			headers: map[string]string{"b3": "0"}, want: deny},
		{name: "IdNotYetSampled128", source: "envoy span_context_extractor_test.cc IdNotYetSampled128",
			headers: map[string]string{"b3": envoy128 + "-" + envoySpanID},
			want:    extracted{TraceID: envoy128, SpanID: envoySpanID, Deferred: true}},
		{name: "IdsUnsampled", source: "envoy span_context_extractor_test.cc IdsUnsampled",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-0"},
			want:    extracted{TraceID: envoy, SpanID: envoySpanID}},
		{name: "ParentUnsampled", source: "envoy span_context_extractor_test.cc ParentUnsampled",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-0-" + envoyParentID},
			want:    extracted{TraceID: envoy, SpanID: envoySpanID}},
		{name: "ParentDebug", source: "envoy span_context_extractor_test.cc ParentDebug",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-d-" + envoyParentID},
			want:    extracted{TraceID: envoy, SpanID: envoySpanID, Sampled: true, Debug: true}},
		{name: "IdsWithDebug", source: "envoy span_context_extractor_test.cc IdsWithDebug",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-d"},
			want:    extracted{TraceID: envoy, SpanID: envoySpanID, Sampled: true, Debug: true}},
		{name: "WithoutSampled", source: "envoy span_context_extractor_test.cc WithoutSampled",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID},
			want:    extracted{TraceID: envoy, SpanID: envoySpanID, Deferred: true}},
		{name: "TooBig three trace IDs", source: "envoy span_context_extractor_test.cc TooBig",
			headers: map[string]string{"b3": envoyTraceID + envoyTraceID + envoyTraceID + "-" + envoySpanID + "-" + envoyTraceID}, want: none},
		{name: "TooBig long parent", source: "envoy span_context_extractor_test.cc TooBig",
			headers: map[string]string{"b3": envoy128 + "-" + envoySpanID + "-1-" + envoyParentID + "a"}, want: none},
		{name: "Empty", source: "envoy span_context_extractor_test.cc Empty",
			headers: map[string]string{"b3": ""}, want: none},
		{name: "InvalidInput trace ID high", source: "envoy span_context_extractor_test.cc InvalidInput",
			headers: map[string]string{"b3": envoyTraceID[:15] + "!" + envoyTraceID + "-" + envoySpanID}, want: none},
		{name: "InvalidInput trace ID low", source: "envoy span_context_extractor_test.cc InvalidInput",
			headers: map[string]string{"b3": envoyTraceID + envoyTraceID[:15] + "!-" + envoySpanID}, want: none},
		{name: "InvalidInput short trace ID", source: "envoy span_context_extractor_test.cc InvalidInput",
			headers: map[string]string{"b3": envoyTraceID[:15] + "!-" + envoySpanID}, want: none},
		{name: "InvalidInput no span ID separator", source: "envoy span_context_extractor_test.cc InvalidInput",
			headers: map[string]string{"b3": envoyTraceID + "!" + envoySpanID}, want: none},
		{name: "InvalidInput span ID", source: "envoy span_context_extractor_test.cc InvalidInput",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID[:15] + "!"}, want: none},
		{name: "InvalidInput sampling separator", source: "envoy span_context_extractor_test.cc InvalidInput ('…!0')",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "!0"}, want: none},
		{name: "InvalidInput sampling flag", source: "envoy span_context_extractor_test.cc InvalidInput",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-c"}, want: none},
		{name: "InvalidInput parent separator", source: "envoy span_context_extractor_test.cc InvalidInput ('d!')",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-d!" + envoyParentID}, want: none},
		{name: "InvalidInput parent ID", source: "envoy span_context_extractor_test.cc InvalidInput",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-d-" + envoyParentID[:15] + "!"}, want: none},
		{name: "InvalidInput dash", source: "envoy span_context_extractor_test.cc InvalidInput",
			headers: map[string]string{"b3": "-"}, want: none},
		{name: "Truncated -1", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": "-1"}, want: none},
		{name: "Truncated 1-", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": "1-"}, want: none},
		{name: "Truncated short trace ID", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID[:15]}, want: none},
		{name: "Truncated trace ID only", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID}, want: none},
		{name: "Truncated trace ID dash", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID + "-"}, want: none},
		{name: "Truncated short trace ID with span", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID[:15] + "-" + envoySpanID}, want: none},
		{name: "Truncated short span ID", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID[:15]}, want: none},
		{name: "Truncated trailing dash", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-"}, want: none},
		{name: "Truncated sampling dash", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-1-"}, want: none},
		{name: "Truncated short parent", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-1-" + envoyParentID[:15]}, want: none},
		{name: "Truncated parent without sampling", source: "envoy span_context_extractor_test.cc Truncated",
			headers: map[string]string{"b3": envoyTraceID + "-" + envoySpanID + "-" + envoyTraceID + envoyTraceID}, want: none},

		// The Jaeger clients' B3 codecs.
		{name: "short parent 0 with debug", source: "jaeger-client-java B3TextMapCodecTest support128BitTraceIdExtraction",
			headers: map[string]string{"X-B3-TraceId": "463ac35c9f6413ad48485a3953bb6124", "X-B3-SpanId": "48485a3953bb6124",
				"X-B3-ParentSpanId": "0", "X-B3-Sampled": "1", "X-B3-Flags": "1"},
			want: extracted{TraceID: "463ac35c9f6413ad48485a3953bb6124", SpanID: "48485a3953bb6124", Sampled: true, Debug: true}},
		{name: "short upper-case parent", source: "jaeger-client-go zipkin/propagation.go (strconv.ParseUint base 16)",
			headers: map[string]string{"X-B3-TraceId": zipkinTraceID, "X-B3-SpanId": zipkinSpanID, "X-B3-ParentSpanId": "5E3AC9A4F6E3B90", "X-B3-Sampled": "0"},
			want:    extracted{TraceID: zipkinTraceID, SpanID: zipkinSpanID}},
		{name: "parent over 16 digits", source: "jaeger-client-go zipkin/propagation.go (strconv.ParseUint 64 bits)",
			headers: map[string]string{"X-B3-TraceId": zipkinTraceID, "X-B3-SpanId": zipkinSpanID, "X-B3-ParentSpanId": "1" + zipkinParentID}, want: none},
		{name: "non-hex parent", source: "jaeger-client-node test/zipkin_b3_text_map_codec.js",
			headers: map[string]string{"X-B3-TraceId": zipkinTraceID, "X-B3-SpanId": zipkinSpanID, "X-B3-ParentSpanId": "zzzzz"}, want: none},
		{name: "lone sampled accepts", source: "jaeger-client-node test/zipkin_b3_text_map_codec.js 'set the sampled flag'",
			headers: map[string]string{"X-B3-Sampled": "1"}, want: extracted{Decision: propagation.Accept}},
		{name: "lone sampled 0 denies", source: "jaeger-client-node test/zipkin_b3_text_map_codec.js 'not set the sampled flag if sampling is denied'",
			headers: map[string]string{"X-B3-Sampled": "0"}, want: deny},
		{name: "lone false denies", source: "openzipkin/b3-propagation README (true/false accepted leniently)",
			headers: map[string]string{"X-B3-Sampled": "false"}, want: deny},
		{name: "deny with a span ID is malformed", source: "openzipkin/b3-propagation README, Multiple Headers (both IDs required)",
			headers: map[string]string{"X-B3-SpanId": zipkinSpanID, "X-B3-Sampled": "0"}, want: none},
	}
	p := propagation.New(propagation.WithFormats(propagation.B3, propagation.B3Multi))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extractCase(t, p, tt.headers, tt.want)
		})
	}
}

// TestB3SamplingOnly follows a decision sent without IDs through a hop
// under the OpenTelemetry SDK: the span the request starts and what it
// writes downstream.
func TestB3SamplingOnly(t *testing.T) {
	tests := []struct {
		name        string
		source      string
		headers     map[string]string
		sampler     sdktrace.Sampler
		wantSampled bool
		wantB3Flag  string // the sampling state of the b3 header written downstream
	}{
		{name: "b3 deny with the SDK's default sampler", source: "openzipkin/b3-propagation README, deny",
			headers: map[string]string{"b3": "0"}, sampler: sdktrace.ParentBased(sdktrace.AlwaysSample()), wantB3Flag: "0"},
		{name: "X-B3-Sampled deny with the SDK's default sampler", source: "openzipkin/b3-propagation README, health check",
			headers: map[string]string{"X-B3-Sampled": "0"}, sampler: sdktrace.ParentBased(sdktrace.AlwaysSample()), wantB3Flag: "0"},
		{name: "deny under Sampler over an always-on sampler", source: "openzipkin/b3-propagation README, deny",
			headers: map[string]string{"b3": "0"}, sampler: propagation.Sampler(sdktrace.AlwaysSample()), wantB3Flag: "0"},
		{name: "accept leaves the root to the local sampler", source: "envoy span_context_extractor_test.cc Sampled",
			headers: map[string]string{"b3": "1"}, sampler: sdktrace.ParentBased(sdktrace.NeverSample()), wantB3Flag: "0"},
		{name: "accept under Sampler samples the root", source: "envoy span_context_extractor_test.cc Sampled",
			headers: map[string]string{"b3": "1"}, sampler: propagation.Sampler(sdktrace.ParentBased(sdktrace.NeverSample())), wantSampled: true, wantB3Flag: "1"},
		{name: "debug under Sampler samples the root and stays debug", source: "envoy span_context_extractor_test.cc DebugOnly",
			headers: map[string]string{"b3": "d"}, sampler: propagation.Sampler(sdktrace.ParentBased(sdktrace.NeverSample())), wantSampled: true, wantB3Flag: "d"},
		{name: "debug the local sampler drops is not written as debug", source: "openzipkin/b3-propagation README, Debug implies accept",
			headers: map[string]string{"X-B3-Flags": "1"}, sampler: sdktrace.ParentBased(sdktrace.NeverSample()), wantB3Flag: "0"},
	}
	p := propagation.New(propagation.WithFormats(propagation.B3, propagation.B3Multi, propagation.TraceContext))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(tt.sampler))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			ctx := p.Extract(context.Background(), otelprop.HeaderCarrier(h))
			ctx, span := tp.Tracer("test").Start(ctx, "request")
			defer span.End()
			if got := span.SpanContext().IsSampled(); got != tt.wantSampled {
				t.Errorf("span sampled = %v, want %v", got, tt.wantSampled)
			}
			out := http.Header{}
			p.Inject(ctx, otelprop.HeaderCarrier(out))
			b3 := strings.Split(out.Get("b3"), "-")
			if got := b3[len(b3)-1]; got != tt.wantB3Flag {
				t.Errorf("b3 written downstream %q, want sampling state %q", out.Get("b3"), tt.wantB3Flag)
			}
			if b3[0] == strings.Repeat("0", 32) || !span.SpanContext().TraceID().IsValid() {
				t.Errorf("no new trace started: b3 %q", out.Get("b3"))
			}
		})
	}
}
