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

package settings_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

func TestNewConfigFromMap(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    *settings.Config
		wantErr string
	}{{
		name: "empty is the defaults",
		data: map[string]string{"_example": "anything"},
		want: settings.DefaultConfig(),
	}, {
		name: "everything set",
		data: map[string]string{
			settings.CollectorProtocolKey:     "http/protobuf",
			settings.CollectorEndpointKey:     "http://c:4318/v1/traces",
			settings.CollectorHTTPEndpointKey: "http://c:4318",
			settings.ZipkinEndpointKey:        "http://c:9411/api/v2/spans",
			settings.SamplingRateKey:          "1",
			settings.PropagatorsKey:           "B3,tracecontext",
			settings.KntraceQueueProxyKey:     "true",
			settings.QueueSidecarImageKey:     "example.com/queue:v1",
			settings.ManageKnativeConfigKey:   "false",
		},
		want: &settings.Config{
			CollectorProtocol: "http/protobuf", CollectorEndpoint: "http://c:4318/v1/traces",
			CollectorHTTPEndpoint: "http://c:4318", ZipkinEndpoint: "http://c:9411/api/v2/spans",
			SamplingRate: 1, Propagators: "b3,tracecontext", KntraceQueueProxy: true,
			QueueSidecarImage: "example.com/queue:v1", ManageKnativeConfig: false,
		},
	}, {
		name:    "rate out of range",
		data:    map[string]string{settings.SamplingRateKey: "2"},
		wantErr: settings.SamplingRateKey,
	}, {
		name:    "rate not a number",
		data:    map[string]string{settings.SamplingRateKey: "ten"},
		wantErr: settings.SamplingRateKey,
	}, {
		name:    "unknown protocol",
		data:    map[string]string{settings.CollectorProtocolKey: "zipkin"},
		wantErr: settings.CollectorProtocolKey,
	}, {
		name:    "scheme-less endpoint",
		data:    map[string]string{settings.CollectorEndpointKey: "10.0.0.1:4317"},
		wantErr: settings.CollectorEndpointKey,
	}, {
		name:    "grpc with a path",
		data:    map[string]string{settings.CollectorEndpointKey: "http://c:4317/v1/traces"},
		wantErr: "grpc takes no path",
	}, {
		name:    "http/protobuf without a path",
		data:    map[string]string{settings.CollectorProtocolKey: "http/protobuf", settings.CollectorEndpointKey: "http://c:4318"},
		wantErr: "needs the full path",
	}, {
		name:    "unknown propagator",
		data:    map[string]string{settings.PropagatorsKey: "w3c"},
		wantErr: settings.PropagatorsKey,
	}, {
		name:    "bad bool",
		data:    map[string]string{settings.KntraceQueueProxyKey: "yes please"},
		wantErr: settings.KntraceQueueProxyKey,
	}, {
		name: "protocol none needs no endpoint check",
		data: map[string]string{settings.CollectorProtocolKey: "none", settings.CollectorEndpointKey: "anything"},
		want: func() *settings.Config {
			c := settings.DefaultConfig()
			c.CollectorProtocol, c.CollectorEndpoint = "none", "anything"
			return c
		}(),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := settings.NewConfigFromMap(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewConfigFromMap() error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewConfigFromMap() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppEndpoint(t *testing.T) {
	c := settings.DefaultConfig()
	if got := c.AppEndpoint(); got != settings.DefaultCollectorHTTPEndpoint {
		t.Errorf("without kntrace's queue-proxy: %q, want the collector %q", got, settings.DefaultCollectorHTTPEndpoint)
	}
	c.KntraceQueueProxy = true
	if got := c.AppEndpoint(); got != conventions.RelayEndpoint {
		t.Errorf("with kntrace's queue-proxy: %q, want the relay %q", got, conventions.RelayEndpoint)
	}
}
