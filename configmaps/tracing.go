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
	"errors"
	"fmt"
	"strconv"

	pkgtracing "knative.dev/pkg/observability/tracing"
)

// Tracing is config-observability's tracing section as Knative reads it.
type Tracing struct {
	Protocol     string  `json:"protocol"`
	Endpoint     string  `json:"endpoint,omitempty"`
	SamplingRate float64 `json:"samplingRate"`
	// SamplingRateSet is false when the key is absent (Knative then uses 0).
	SamplingRateSet bool `json:"-"`
}

// NewTracingFromMap parses config-observability data with knative.dev/pkg's
// parser, so the result and the errors are Knative's own.
func NewTracingFromMap(data map[string]string) (*Tracing, error) {
	cfg, err := pkgtracing.NewFromMap(data)
	if err != nil {
		return nil, err
	}
	_, rateSet := data[SamplingRateKey]
	return &Tracing{Protocol: cfg.Protocol, Endpoint: cfg.Endpoint, SamplingRate: cfg.SamplingRate, SamplingRateSet: rateSet}, nil
}

// LegacyTracing is config-tracing as Knative before 1.19 read it.
type LegacyTracing struct {
	Backend        string  `json:"backend"`
	ZipkinEndpoint string  `json:"zipkinEndpoint,omitempty"`
	Debug          bool    `json:"debug"`
	SampleRate     float64 `json:"sampleRate"`
}

// LegacyDefaultSampleRate is config-tracing's sample-rate when unset.
const LegacyDefaultSampleRate = 0.1

// NewLegacyTracingFromMap applies the rules of knative.dev/pkg/tracing/config
// as Knative shipped them before 1.19: backend zipkin|none, or failing that
// the older boolean enable; zipkin needs zipkin-endpoint; sample-rate in
// [0,1], 0.1 when unset.
func NewLegacyTracingFromMap(data map[string]string) (*LegacyTracing, error) {
	lt := &LegacyTracing{Backend: BackendNone, SampleRate: LegacyDefaultSampleRate}
	if backend, ok := data[BackendKey]; ok {
		if backend != BackendZipkin && backend != BackendNone {
			return nil, fmt.Errorf("%s: unsupported value %q: want %q or %q", BackendKey, backend, BackendZipkin, BackendNone)
		}
		lt.Backend = backend
	} else if enable, ok := data[EnableKey]; ok {
		on, err := strconv.ParseBool(enable)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a boolean: want true or false", EnableKey, enable)
		}
		if on {
			lt.Backend = BackendZipkin
		}
	}
	lt.ZipkinEndpoint = data[ZipkinEndpointKey]
	if v, ok := data[DebugKey]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a boolean: want true or false", DebugKey, v)
		}
		lt.Debug = b
	}
	if v, ok := data[SampleRateKey]; ok {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number: want a value in [0, 1]", SampleRateKey, v)
		}
		lt.SampleRate = r
	}
	if lt.Backend == BackendZipkin && lt.ZipkinEndpoint == "" {
		return nil, errors.New(ZipkinEndpointKey + ": backend zipkin needs a Zipkin endpoint, e.g. http://zipkin.istio-system.svc.cluster.local:9411/api/v2/spans")
	}
	if lt.SampleRate < 0 || lt.SampleRate > 1 {
		return nil, fmt.Errorf("%s: %v is out of range: want a value in [0, 1]", SampleRateKey, lt.SampleRate)
	}
	return lt, nil
}
