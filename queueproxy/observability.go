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
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kntrace/kntrace/conventions"
)

// EnvObservabilityConfig is the JSON Knative's revision reconciler
// serialises config-observability into.
const EnvObservabilityConfig = "OBSERVABILITY_CONFIG"

const (
	maxObservabilityBytes = 1 << 20
	tracingKey            = "tracing"
)

// Tracing is the tracing part of Knative's observability config, as
// OBSERVABILITY_CONFIG spells it.
type Tracing struct {
	Protocol     string  `json:"protocol,omitempty"`
	Endpoint     string  `json:"endpoint,omitempty"`
	SamplingRate float64 `json:"samplingRate,omitempty"`
}

// Exports reports whether the protocol sends spans to a collector.
func (t Tracing) Exports() bool {
	return t.Protocol == conventions.ProtocolGRPC || t.Protocol == conventions.ProtocolHTTPProtobuf
}

// ParseObservability reads the tracing part of OBSERVABILITY_CONFIG and
// returns it with the other top-level keys, kept verbatim so the config can
// be written back with only tracing changed. An empty value is Knative's
// default (protocol none).
func ParseObservability(v string) (Tracing, map[string]json.RawMessage, error) {
	all := map[string]json.RawMessage{}
	if strings.TrimSpace(v) == "" {
		return Tracing{Protocol: conventions.ProtocolNone}, all, nil
	}
	if len(v) > maxObservabilityBytes {
		return Tracing{}, nil, fmt.Errorf("%s: %d bytes, more than %d", EnvObservabilityConfig, len(v), maxObservabilityBytes)
	}
	if err := json.Unmarshal([]byte(v), &all); err != nil {
		return Tracing{}, nil, fmt.Errorf("%s: %w", EnvObservabilityConfig, err)
	}
	if all == nil {
		all = map[string]json.RawMessage{}
	}
	t := Tracing{Protocol: conventions.ProtocolNone}
	if raw, ok := all[tracingKey]; ok {
		if err := json.Unmarshal(raw, &t); err != nil {
			return Tracing{}, nil, fmt.Errorf("%s: tracing: %w", EnvObservabilityConfig, err)
		}
		if t.Protocol == "" {
			t.Protocol = conventions.ProtocolNone
		}
	}
	return t, all, nil
}

// formatObservability writes all back with tracing replaced.
func formatObservability(all map[string]json.RawMessage, t Tracing) (string, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	out := make(map[string]json.RawMessage, len(all)+1)
	for k, v := range all {
		out[k] = v
	}
	out[tracingKey] = raw
	b, err := json.Marshal(out)
	return string(b), err
}

// collectorEndpoint is where Knative's exporter would send: the OTLP
// endpoint variables win over config-observability, as in Knative.
func collectorEndpoint(t Tracing, getenv func(string) string) string {
	if v := getenv(conventions.EnvTracesEndpoint); v != "" {
		return v
	}
	if v := getenv(conventions.EnvEndpoint); v != "" {
		if t.Protocol == conventions.ProtocolHTTPProtobuf {
			return strings.TrimSuffix(v, "/") + conventions.TracesPath
		}
		return v
	}
	ep := t.Endpoint
	// Knative turns a scheme-less host:port into https://host:port.
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	return ep
}
