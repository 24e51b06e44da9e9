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
	"context"
	"net/url"
	"strconv"
	"testing"

	pkgtracing "knative.dev/pkg/observability/tracing"
)

// FuzzCheckObservability holds kntrace's promise for any endpoint and rate a
// user can type: never a panic, and whatever kntrace accepts Knative accepts
// too and can build an exporter from at start-up.
func FuzzCheckObservability(f *testing.F) {
	for _, s := range []struct{ protocol, endpoint, rate string }{
		{"grpc", "http://c:4317", "1"},
		{"grpc", "10.0.0.1:4317", "1"},
		{"grpc", "collector:4317", "0.5"},
		{"http/protobuf", "http://c:4318/v1/traces", "0.1"},
		{"http/protobuf", "http://c:4318", "1"},
		{"grpc", "http://c:4317", ""},
		{"none", "", ""},
		{"stdout", "", "1"},
		{"grpc", "https://[::1]:4317", "1e-3"},
		{"grpc", "http://c:4317", "NaN"},
		{"grpc", "http://c:4317", "-0"},
		{"grpc", "http://%zz:4317", "1"},
	} {
		f.Add(s.protocol, s.endpoint, s.rate)
	}
	f.Fuzz(func(t *testing.T, protocol, endpoint, rate string) {
		data := map[string]string{ProtocolKey: protocol}
		if endpoint != "" {
			data[EndpointKey] = endpoint
		}
		if rate != "" {
			data[SamplingRateKey] = rate
		}
		if len(Errors(Check(ShapeObservability, ServingNamespace, data, nil, CheckOptions{}))) > 0 {
			return
		}
		cfg, err := pkgtracing.NewFromMap(data)
		if err != nil {
			t.Fatalf("kntrace accepted %v, Knative rejects it: %v", data, err)
		}
		if cfg.Protocol != ProtocolGRPC && cfg.Protocol != ProtocolHTTPProtobuf {
			return
		}
		if cfg.SamplingRate <= 0 || cfg.SamplingRate > 1 {
			t.Fatalf("kntrace accepted rate %v for an exporting protocol", cfg.SamplingRate)
		}
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Opaque != "" || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("kntrace accepted endpoint %q that Knative would prefix with https:// or fail on", cfg.Endpoint)
		}
		tp, err := pkgtracing.NewTracerProvider(context.Background(), cfg)
		if err != nil {
			t.Fatalf("kntrace accepted %v but Knative's start-up fails: %v", data, err)
		}
		_ = tp.Shutdown(context.Background())
	})
}

// FuzzLegacySampleRate checks the legacy parser against its own rules.
func FuzzLegacySampleRate(f *testing.F) {
	for _, s := range []string{"0.1", "1", "0", "-1", "2", "NaN", "abc", "1e-9", "+Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rate string) {
		lt, err := NewLegacyTracingFromMap(map[string]string{SampleRateKey: rate})
		r, perr := strconv.ParseFloat(rate, 64)
		wantErr := perr != nil || r < 0 || r > 1
		if (err != nil) != wantErr {
			t.Fatalf("sample-rate %q: error %v, want error=%v", rate, err, wantErr)
		}
		if err == nil && lt.SampleRate != r && !(r != r) {
			t.Fatalf("sample-rate %q parsed as %v", rate, lt.SampleRate)
		}
	})
}
