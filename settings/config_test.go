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
	"time"

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
			settings.SamplingModeKey:          " tail ",
			settings.RelayMaxBytesKey:         "64Mi",
			settings.RelayMaxRequestBytesKey:  "1048576",
			settings.RelayDrainTimeoutKey:     "30s",
		},
		want: &settings.Config{
			CollectorProtocol: "http/protobuf", CollectorEndpoint: "http://c:4318/v1/traces",
			CollectorHTTPEndpoint: "http://c:4318", ZipkinEndpoint: "http://c:9411/api/v2/spans",
			SamplingRate: 1, Propagators: "b3,tracecontext", KntraceQueueProxy: true,
			QueueSidecarImage: "example.com/queue:v1", ManageKnativeConfig: false,
			SamplingMode: settings.SamplingModeTail,
			Relay:        settings.RelayLimits{MaxBytes: 64 << 20, MaxRequestBytes: 1 << 20, DrainTimeout: 30 * time.Second},
		},
	}, {
		name: "blank relay limits are the relay's defaults",
		data: map[string]string{settings.RelayMaxBytesKey: "", settings.RelayMaxRequestBytesKey: " ", settings.RelayDrainTimeoutKey: ""},
		want: settings.DefaultConfig(),
	}, {
		name:    "unknown sampling mode",
		data:    map[string]string{settings.SamplingModeKey: "adaptive"},
		wantErr: `sampling-mode "adaptive": want head`,
	}, {
		name:    "relay queue below the floor",
		data:    map[string]string{settings.RelayMaxBytesKey: "1Ki"},
		wantErr: "relay-max-bytes: \"1Ki\": want a size from 64Ki to 1Gi",
	}, {
		name:    "relay queue not a size",
		data:    map[string]string{settings.RelayMaxBytesKey: "16MB"},
		wantErr: settings.RelayMaxBytesKey,
	}, {
		name:    "relay request larger than the queue",
		data:    map[string]string{settings.RelayMaxBytesKey: "1Mi", settings.RelayMaxRequestBytesKey: "2Mi"},
		wantErr: "relay-max-request-bytes 2Mi is larger than relay-max-bytes 1Mi",
	}, {
		name:    "relay drain timeout without a unit",
		data:    map[string]string{settings.RelayDrainTimeoutKey: "10"},
		wantErr: settings.RelayDrainTimeoutKey,
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

func TestHeadSamplingRate(t *testing.T) {
	c := settings.DefaultConfig()
	if got := c.HeadSamplingRate(); got != settings.DefaultSamplingRate {
		t.Errorf("head mode: %v, want sampling-rate %v", got, settings.DefaultSamplingRate)
	}
	c.SamplingMode = settings.SamplingModeTail
	if got := c.HeadSamplingRate(); got != 1 {
		t.Errorf("tail mode: %v, want 1 (the gateways decide)", got)
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
