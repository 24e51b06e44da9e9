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
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/propagation"
	"github.com/kntrace/kntrace/queueproxy"
)

func TestParseObservability(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    queueproxy.Tracing
		wantErr string
	}{
		{name: "empty is Knative's default", in: "", want: queueproxy.Tracing{Protocol: "none"}},
		{name: "no tracing key", in: `{"metrics":{"protocol":"prometheus"}}`, want: queueproxy.Tracing{Protocol: "none"}},
		{name: "grpc", in: `{"tracing":{"protocol":"grpc","endpoint":"http://c:4317","samplingRate":0.25}}`, want: queueproxy.Tracing{Protocol: "grpc", Endpoint: "http://c:4317", SamplingRate: 0.25}},
		{name: "http", in: `{"tracing":{"protocol":"http/protobuf","endpoint":"http://c:4318/v1/traces"}}`, want: queueproxy.Tracing{Protocol: "http/protobuf", Endpoint: "http://c:4318/v1/traces"}},
		{name: "not json", in: `{tracing`, wantErr: "OBSERVABILITY_CONFIG"},
		{name: "tracing not an object", in: `{"tracing":3}`, wantErr: "OBSERVABILITY_CONFIG: tracing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := queueproxy.ParseObservability(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAnnotations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "downward API format", in: "kntrace.dev/sampling-rate=\"0.5\"\nautoscaling.knative.dev/min-scale=\"0\"\n", want: map[string]string{"kntrace.dev/sampling-rate": "0.5", "autoscaling.knative.dev/min-scale": "0"}},
		{name: "escapes and equals", in: `a="x=\"y\"\n"`, want: map[string]string{"a": "x=\"y\"\n"}},
		{name: "bad lines skipped", in: "a=\"1\"\nnoequals\nb=unquoted\nc=\"3\"", want: map[string]string{"a": "1", "c": "3"}, wantErr: "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := queueproxy.ParseAnnotations([]byte(tc.in))
			if tc.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseAnnotations(f *testing.F) {
	f.Add("kntrace.dev/sampling-rate=\"0.5\"\n")
	f.Add("a=\"\\u00e9\"\nb=\"\"\n=\"x\"\n")
	f.Add("a=\"unterminated\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := queueproxy.ParseAnnotations([]byte(s))
		for k := range got {
			if k == "" || strings.ContainsAny(k, "\n") {
				t.Fatalf("key %q", k)
			}
		}
	})
}

func FuzzParseObservability(f *testing.F) {
	f.Add(`{"tracing":{"protocol":"grpc","endpoint":"http://c:4317","samplingRate":1}}`)
	f.Add(`{"tracing":null}`)
	f.Fuzz(func(t *testing.T, s string) {
		tr, all, err := queueproxy.ParseObservability(s)
		if err == nil && (all == nil || tr.Protocol == "") {
			t.Fatalf("no error but config %+v %v", tr, all)
		}
	})
}

// TestSetup: what Setup makes Knative's Main see.
func TestSetup(t *testing.T) {
	const grpcConfig = `{"tracing":{"protocol":"grpc","endpoint":"http://127.0.0.1:1","samplingRate":0.25},"metrics":{"protocol":"prometheus"}}`
	for _, tc := range []struct {
		name        string
		env         map[string]string
		annotations string // "" writes no file
		wantEnv     map[string]string
		wantRelay   bool
		wantRate    float64
		wantInject  []propagation.Format
	}{
		{
			name:       "tracing off: nothing changes",
			env:        map[string]string{},
			wantEnv:    map[string]string{},
			wantInject: propagation.DefaultFormats(),
		},
		{
			name:      "grpc collector: relay, parent-based sampler at the config rate",
			env:       map[string]string{"OBSERVABILITY_CONFIG": grpcConfig},
			wantRelay: true, wantRate: 0.25,
			wantEnv:    map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			wantInject: propagation.DefaultFormats(),
		},
		{
			name:        "annotation overrides the rate and the injected formats",
			env:         map[string]string{"OBSERVABILITY_CONFIG": grpcConfig},
			annotations: "kntrace.dev/sampling-rate=\"1\"\nkntrace.dev/propagators=\"b3multi,tracecontext\"\n",
			wantRelay:   true, wantRate: 1,
			wantEnv:    map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1"},
			wantInject: []propagation.Format{propagation.B3Multi, propagation.TraceContext},
		},
		{
			name:        "malformed annotation is ignored",
			env:         map[string]string{"OBSERVABILITY_CONFIG": grpcConfig},
			annotations: "kntrace.dev/sampling-rate=\"lots\"\nkntrace.dev/propagators=\"zipkin\"\n",
			wantRelay:   true, wantRate: 0.25,
			wantEnv:    map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			wantInject: propagation.DefaultFormats(),
		},
		{
			name:      "an explicit sampler is kept",
			env:       map[string]string{"OBSERVABILITY_CONFIG": grpcConfig, "OTEL_TRACES_SAMPLER": "always_on"},
			wantRelay: true, wantRate: 0.25,
			wantEnv:    map[string]string{},
			wantInject: propagation.DefaultFormats(),
		},
		{
			name:      "an explicit sampler argument is kept",
			env:       map[string]string{"OBSERVABILITY_CONFIG": grpcConfig, "OTEL_TRACES_SAMPLER_ARG": "0.01"},
			wantRelay: true, wantRate: 0.25,
			wantEnv:    map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"},
			wantInject: propagation.DefaultFormats(),
		},
		{
			name:       "relay off",
			env:        map[string]string{"OBSERVABILITY_CONFIG": grpcConfig, "KNTRACE_RELAY": "false"},
			wantRate:   0.25,
			wantEnv:    map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			wantInject: propagation.DefaultFormats(),
		},
		{
			name:       "relay cannot listen: exporter left as Knative set it",
			env:        map[string]string{"OBSERVABILITY_CONFIG": grpcConfig, "KNTRACE_RELAY_ADDRESS": "192.0.2.1:1"},
			wantRate:   0.25,
			wantEnv:    map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			wantInject: propagation.DefaultFormats(),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "annotations")
			if tc.annotations != "" {
				if err := os.WriteFile(path, []byte(tc.annotations), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{"KNTRACE_RELAY_ADDRESS": "127.0.0.1:0"}
			for k, v := range tc.env {
				env[k] = v
			}
			q, err := queueproxy.Setup(queueproxy.WithEnv(func(k string) string { return env[k] }), queueproxy.WithPodInfoPath(path))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = q.Shutdown(t.Context()) })
			got := q.Environment()
			if tc.wantRelay {
				if q.Relay() == nil {
					t.Fatal("no relay")
				}
				ep := "http://" + q.Relay().Addr() + conventions.TracesPath
				tr, all, err := queueproxy.ParseObservability(got["OBSERVABILITY_CONFIG"])
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(queueproxy.Tracing{Protocol: "http/protobuf", Endpoint: ep, SamplingRate: 0.25}, tr); diff != "" {
					t.Errorf("rewritten tracing (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(json.RawMessage(`{"protocol":"prometheus"}`), all["metrics"]); diff != "" {
					t.Errorf("other keys must be kept (-want +got):\n%s", diff)
				}
				if got["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] != ep || got["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] != "http/protobuf" {
					t.Errorf("exporter env %q %q, want %q http/protobuf", got["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"], got["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"], ep)
				}
				for _, k := range []string{"OBSERVABILITY_CONFIG", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
					delete(got, k)
				}
			} else if q.Relay() != nil {
				t.Errorf("relay running at %s, want none", q.Relay().Addr())
			}
			if diff := cmp.Diff(tc.wantEnv, got); diff != "" {
				t.Errorf("environment (-want +got):\n%s", diff)
			}
			if rate, _ := q.SamplingRate(); rate != tc.wantRate {
				t.Errorf("rate %v, want %v", rate, tc.wantRate)
			}
			if diff := cmp.Diff(tc.wantInject, q.Propagator().InjectFormats()); diff != "" {
				t.Errorf("injected formats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(propagation.DefaultExtractOrder(), q.Propagator().ExtractOrder(), cmpopts.SortSlices(func(a, b propagation.Format) bool { return a < b })); diff != "" {
				t.Errorf("the bridge must read every format (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetupRefusesBadObservabilityConfig(t *testing.T) {
	_, err := queueproxy.Setup(queueproxy.WithEnv(func(k string) string {
		if k == "OBSERVABILITY_CONFIG" {
			return "{"
		}
		return ""
	}))
	if err == nil || !strings.Contains(err.Error(), "OBSERVABILITY_CONFIG") {
		t.Fatalf("error %v, want one naming OBSERVABILITY_CONFIG", err)
	}
}
