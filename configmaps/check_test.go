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

package configmaps

import (
	"strings"
	"testing"
)

func TestCheckObservability(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		opts    CheckOptions
		wantKey string // key of the single error expected; "" = no error
		wantMsg string
	}{{
		name: "shipped default: protocol none",
		data: map[string]string{},
	}, {
		name: "grpc with scheme and rate",
		data: map[string]string{ProtocolKey: "grpc", EndpointKey: "http://otel-collector.kntrace-system:4317", SamplingRateKey: "0.1"},
	}, {
		name: "http/protobuf with path",
		data: map[string]string{ProtocolKey: "http/protobuf", EndpointKey: "http://jaeger-collector.observability:4318/v1/traces", SamplingRateKey: "1"},
	}, {
		name:    "IP:port passes Knative but url.Parse fails at start-up",
		data:    map[string]string{ProtocolKey: "grpc", EndpointKey: "10.0.0.1:4317", SamplingRateKey: "1"},
		wantKey: EndpointKey, wantMsg: "crash-loops",
	}, {
		name:    "host:port silently becomes https",
		data:    map[string]string{ProtocolKey: "grpc", EndpointKey: "otel-collector:4317", SamplingRateKey: "1"},
		wantKey: EndpointKey, wantMsg: "https://otel-collector:4317",
	}, {
		name:    "bare host name",
		data:    map[string]string{ProtocolKey: "grpc", EndpointKey: "otel-collector", SamplingRateKey: "1"},
		wantKey: EndpointKey, wantMsg: "no scheme",
	}, {
		name:    "protocol without rate samples nothing",
		data:    map[string]string{ProtocolKey: "grpc", EndpointKey: "http://c:4317"},
		wantKey: SamplingRateKey, wantMsg: "not set, so Knative uses 0",
	}, {
		name:    "protocol with rate 0 samples nothing",
		data:    map[string]string{ProtocolKey: "http/protobuf", EndpointKey: "http://c:4318/v1/traces", SamplingRateKey: "0"},
		wantKey: SamplingRateKey, wantMsg: "is 0",
	}, {
		name: "rate 0 allowed when asked",
		data: map[string]string{ProtocolKey: "grpc", EndpointKey: "http://c:4317", SamplingRateKey: "0"},
		opts: CheckOptions{AllowZeroSampling: true},
	}, {
		name:    "grpc with an HTTP path",
		data:    map[string]string{ProtocolKey: "grpc", EndpointKey: "http://c:4318/v1/traces", SamplingRateKey: "1"},
		wantKey: EndpointKey, wantMsg: "protocol grpc ignores paths",
	}, {
		name:    "http/protobuf without a path",
		data:    map[string]string{ProtocolKey: "http/protobuf", EndpointKey: "http://c:4318", SamplingRateKey: "1"},
		wantKey: EndpointKey, wantMsg: "http://c:4318/v1/traces",
	}, {
		name:    "Knative rejects an unknown protocol",
		data:    map[string]string{ProtocolKey: "zipkin"},
		wantKey: ProtocolKey, wantMsg: "unsupported protocol",
	}, {
		name:    "Knative rejects a rate above one",
		data:    map[string]string{ProtocolKey: "grpc", EndpointKey: "http://c:4317", SamplingRateKey: "2"},
		wantKey: SamplingRateKey, wantMsg: "less than or equal to one",
	}, {
		name:    "Knative rejects an endpoint with protocol none",
		data:    map[string]string{ProtocolKey: "none", EndpointKey: "http://c:4317"},
		wantKey: EndpointKey, wantMsg: "should not be set",
	}, {
		name:    "NaN rate passes Knative's range check",
		data:    map[string]string{ProtocolKey: "grpc", EndpointKey: "http://c:4317", SamplingRateKey: "NaN"},
		wantKey: SamplingRateKey, wantMsg: "not a number",
	}, {
		name:    "unknown scheme",
		data:    map[string]string{ProtocolKey: "grpc", EndpointKey: "dns://c:4317", SamplingRateKey: "1"},
		wantKey: EndpointKey, wantMsg: "scheme dns",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := Errors(Check(ShapeObservability, ServingNamespace, tc.data, nil, tc.opts))
			if tc.wantKey == "" {
				if len(errs) > 0 {
					t.Fatalf("Check() = %v, want no error", errs)
				}
				return
			}
			if len(errs) != 1 {
				t.Fatalf("Check() = %v, want exactly one error on %s", errs, tc.wantKey)
			}
			if errs[0].Key != tc.wantKey || !strings.Contains(errs[0].Error(), tc.wantMsg) {
				t.Errorf("Check() error = %q (key %q), want key %q and a message containing %q", errs[0].Error(), errs[0].Key, tc.wantKey, tc.wantMsg)
			}
			if errs[0].Fix == "" && tc.wantKey != ProtocolKey {
				t.Errorf("error %q names no fix", errs[0].Error())
			}
		})
	}
}

func TestCheckLegacyKeysInObservabilityAreFlagged(t *testing.T) {
	ps := Check(ShapeObservability, EventingNamespace, map[string]string{BackendKey: "zipkin", ZipkinEndpointKey: "http://z:9411/api/v2/spans"}, nil, CheckOptions{})
	keys := map[string]bool{}
	for _, p := range ps {
		if p.Severity == SeverityWarning && strings.Contains(p.Message, "ignores it") {
			keys[p.Key] = true
		}
	}
	if !keys[BackendKey] || !keys[ZipkinEndpointKey] {
		t.Errorf("Check() = %v, want warnings on %s and %s", ps, BackendKey, ZipkinEndpointKey)
	}
}

func TestCheckMissingWebhookLabels(t *testing.T) {
	ps := Check(ShapeObservability, ServingNamespace, map[string]string{}, map[string]string{"app.kubernetes.io/name": "knative-serving"}, CheckOptions{})
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "app.kubernetes.io/component=observability") {
		t.Errorf("Check() = %v, want one warning about the component label", ps)
	}
	if ps := Check(ShapeObservability, EventingNamespace, map[string]string{}, map[string]string{}, CheckOptions{}); len(ps) != 0 {
		t.Errorf("eventing needs no labels, got %v", ps)
	}
}

func TestCheckLegacy(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		wantKey string
	}{
		{name: "shipped default", data: map[string]string{}},
		{name: "zipkin", data: map[string]string{BackendKey: "zipkin", ZipkinEndpointKey: "http://zipkin.istio-system:9411/api/v2/spans"}},
		{name: "enable true means zipkin", data: map[string]string{EnableKey: "true"}, wantKey: ZipkinEndpointKey},
		{name: "unknown backend", data: map[string]string{BackendKey: "jaeger"}, wantKey: BackendKey},
		{name: "bad debug", data: map[string]string{DebugKey: "yes"}, wantKey: DebugKey},
		{name: "rate out of range", data: map[string]string{SampleRateKey: "1.5"}, wantKey: SampleRateKey},
		{name: "zipkin with rate 0", data: map[string]string{BackendKey: "zipkin", ZipkinEndpointKey: "http://z:9411/api/v2/spans", SampleRateKey: "0"}, wantKey: SampleRateKey},
		{name: "zipkin with rate 0 and debug", data: map[string]string{BackendKey: "zipkin", ZipkinEndpointKey: "http://z:9411/api/v2/spans", SampleRateKey: "0", DebugKey: "true"}},
		{name: "zipkin endpoint without scheme", data: map[string]string{BackendKey: "zipkin", ZipkinEndpointKey: "zipkin:9411"}, wantKey: ZipkinEndpointKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := Errors(Check(ShapeLegacy, ServingNamespace, tc.data, nil, CheckOptions{}))
			switch {
			case tc.wantKey == "" && len(errs) > 0:
				t.Fatalf("Check() = %v, want none", errs)
			case tc.wantKey != "" && (len(errs) != 1 || errs[0].Key != tc.wantKey):
				t.Fatalf("Check() = %v, want one error on %s", errs, tc.wantKey)
			}
		})
	}
}

func TestNewLegacyTracingFromMapDefaults(t *testing.T) {
	lt, err := NewLegacyTracingFromMap(nil)
	if err != nil {
		t.Fatal(err)
	}
	if lt.Backend != BackendNone || lt.SampleRate != 0.1 || lt.Debug {
		t.Errorf("defaults = %+v, want backend none, sample-rate 0.1, debug false", lt)
	}
	// backend wins over the older enable key, as in Knative.
	lt, err = NewLegacyTracingFromMap(map[string]string{BackendKey: "none", EnableKey: "true"})
	if err != nil || lt.Backend != BackendNone {
		t.Errorf("backend none + enable true = %+v, %v; want backend none", lt, err)
	}
}
