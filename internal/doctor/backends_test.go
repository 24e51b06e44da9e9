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

package doctor

import (
	"strings"
	"testing"
)

func TestCollectorAddress(t *testing.T) {
	tests := []struct {
		name, endpoint, protocol, want, wantErr string
	}{
		{name: "grpc URL", endpoint: "http://otel:4317", protocol: "grpc", want: "otel:4317"},
		{name: "grpc URL without port", endpoint: "http://otel", protocol: "grpc", want: "otel:4317"},
		{name: "http URL without port", endpoint: "http://otel/v1/traces", protocol: "http/protobuf", want: "otel:4318"},
		{name: "https without port", endpoint: "https://otel", protocol: "grpc", want: "otel:443"},
		{name: "host:port", endpoint: "127.0.0.1:4317", want: "127.0.0.1:4317"},
		{name: "IPv6", endpoint: "http://[::1]:4317", want: "[::1]:4317"},
		{name: "no port", endpoint: "otel", wantErr: "want a URL or host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got, err := collectorAddress(tc.endpoint, tc.protocol)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("collectorAddress = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	for host, want := range map[string]bool{"otel-collector": true, "otel.kntrace-system": true, "otel.kntrace-system.svc": true,
		"otel.kntrace-system.svc.cluster.local": true, "127.0.0.1": false, "localhost": false, "collector.example.com": false} {
		if got := clusterOnly(host); got != want {
			t.Errorf("clusterOnly(%q) = %v, want %v", host, got, want)
		}
	}
}
