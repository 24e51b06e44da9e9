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
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kntrace/kntrace/scaling"
)

// Environment variables kntrace's queue-proxy reads (besides Knative's own).
const (
	// EnvObservabilityConfig is the JSON Knative's revision reconciler
	// serialises config-observability into.
	EnvObservabilityConfig = "OBSERVABILITY_CONFIG"
	// EnvPodInfoAnnotations overrides the path of the pod's annotations file
	// (default DefaultPodInfoAnnotations).
	EnvPodInfoAnnotations = "KNTRACE_PODINFO_ANNOTATIONS"
	// EnvRelayDrainTimeout bounds, in milliseconds, the relay's drain after
	// Knative's Main has returned (default DefaultRelayDrainTimeout).
	EnvRelayDrainTimeout = "KNTRACE_RELAY_DRAIN_TIMEOUT"
	// EnvRelay set to "false" runs without the relay (the exporter stays as
	// Knative configures it).
	EnvRelay = "KNTRACE_RELAY"
)

// The OpenTelemetry environment variables Setup sets.
const (
	EnvSampler               = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg            = "OTEL_TRACES_SAMPLER_ARG"
	EnvTracesEndpoint        = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvTracesProtocol        = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvEndpoint              = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvPropagators           = "OTEL_PROPAGATORS"
	ParentBasedTraceIDRatio  = "parentbased_traceidratio"
	protocolNone             = "none"
	protocolStdout           = "stdout"
	maxAnnotationsFileBytes  = 256 << 10
	maxObservabilityBytes    = 1 << 20
	tracingKey               = "tracing"
	relayExportProtocolValue = string(scaling.ProtocolHTTPProtobuf)
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
	return t.Protocol == string(scaling.ProtocolGRPC) || t.Protocol == string(scaling.ProtocolHTTPProtobuf)
}

// ParseObservability reads the tracing part of OBSERVABILITY_CONFIG and
// returns it with the other top-level keys, kept verbatim so the config can
// be written back with only tracing changed. An empty value is Knative's
// default (protocol none).
func ParseObservability(v string) (Tracing, map[string]json.RawMessage, error) {
	all := map[string]json.RawMessage{}
	if strings.TrimSpace(v) == "" {
		return Tracing{Protocol: protocolNone}, all, nil
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
	t := Tracing{Protocol: protocolNone}
	if raw, ok := all[tracingKey]; ok {
		if err := json.Unmarshal(raw, &t); err != nil {
			return Tracing{}, nil, fmt.Errorf("%s: tracing: %w", EnvObservabilityConfig, err)
		}
		if t.Protocol == "" {
			t.Protocol = protocolNone
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

// ParseAnnotations reads a Kubernetes downward-API annotations file: one
// key="value" per line, the value quoted as Go quotes strings. A line that
// does not parse is an error naming its number; the others are still
// returned.
func ParseAnnotations(data []byte) (map[string]string, error) {
	out := map[string]string{}
	if len(data) > maxAnnotationsFileBytes {
		return out, fmt.Errorf("annotations file: %d bytes, more than %d", len(data), maxAnnotationsFileBytes)
	}
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 0, 4096), maxAnnotationsFileBytes)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("annotations line %d: want key=\"value\"", n))
			continue
		}
		uv, err := strconv.Unquote(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("annotations line %d (%s): value is not a quoted string", n, k))
			continue
		}
		out[k] = uv
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("annotations file: %w", err))
	}
	return out, errors.Join(errs...)
}

// collectorEndpoint is where Knative's exporter would send: the OTLP
// endpoint variables win over config-observability, as in Knative.
func collectorEndpoint(t Tracing, getenv func(string) string) string {
	if v := getenv(EnvTracesEndpoint); v != "" {
		return v
	}
	if v := getenv(EnvEndpoint); v != "" {
		if t.Protocol == string(scaling.ProtocolHTTPProtobuf) {
			return strings.TrimSuffix(v, "/") + scaling.TracesPath
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
