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

package revisions

import (
	"strconv"
	"strings"

	"knative.dev/pkg/apis"

	"github.com/kntrace/kntrace/propagation"
)

// The annotations users set, on a Service's or Configuration's metadata or
// on spec.template.metadata.
const (
	// InjectAnnotation turns injection on ("true") or off ("false").
	InjectAnnotation = "kntrace.dev/inject"
	// SamplingRateAnnotation is the sampling ratio, a number in [0, 1].
	SamplingRateAnnotation = "kntrace.dev/sampling-rate"
	// PropagatorsAnnotation is an OTEL_PROPAGATORS list.
	PropagatorsAnnotation = "kntrace.dev/propagators"
)

// NamespaceLabel set to NamespaceEnabled turns injection on for every
// Service and Configuration in a namespace.
const (
	NamespaceLabel   = "kntrace.dev/inject"
	NamespaceEnabled = "enabled"
)

// InjectedAnnotation, on the template, records what kntrace added.
const InjectedAnnotation = "kntrace.dev/injected"

// PodInfoAnnotation, set to "enabled" on the template, makes Knative mount
// the pod's annotations into the queue-proxy (when config-features allows
// queueproxy.mount-podinfo).
const PodInfoAnnotation = "features.knative.dev/queueproxy-podinfo"

// RelayEndpoint is kntrace's OTLP/HTTP relay inside every pod that runs
// kntrace's queue-proxy.
const RelayEndpoint = "http://127.0.0.1:4318"

// The environment variables kntrace sets, as the OpenTelemetry specification
// defines them.
const (
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvPropagators        = "OTEL_PROPAGATORS"
	EnvSampler            = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
)

// Sampler is the OTEL_TRACES_SAMPLER kntrace sets: it continues a sampled
// parent (Knative's own sampler does not), and samples new traces at the
// configured ratio.
const Sampler = "parentbased_traceidratio"

// ParseInject reads kntrace.dev/inject: "true" or "false", any case.
func ParseInject(v string) (bool, *apis.FieldError) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, apis.ErrInvalidValue(v, InjectAnnotation, `want "true" or "false"`)
	}
	return b, nil
}

// ParseSamplingRate reads kntrace.dev/sampling-rate: a number in [0, 1].
func ParseSamplingRate(v string) (float64, *apis.FieldError) {
	r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(r >= 0 && r <= 1) {
		return 0, apis.ErrInvalidValue(v, SamplingRateAnnotation, "want a number in [0, 1], e.g. 0.1 (10% of new traces) or 1 (all)")
	}
	return r, nil
}

// ParsePropagators reads kntrace.dev/propagators and returns the normalised
// list (see NormalizePropagators).
func ParsePropagators(v string) (string, *apis.FieldError) {
	p, err := NormalizePropagators(v)
	if err != nil {
		return "", apis.ErrInvalidValue(v, PropagatorsAnnotation,
			"want a comma-separated list of "+strings.Join(propagation.Names(), ", "))
	}
	return p, nil
}

// NormalizePropagators parses an OTEL_PROPAGATORS list with the propagation
// package and returns it in canonical form: lower-case names joined by
// commas, duplicates dropped, "none" when it configures no propagator, the
// default (tracecontext,baggage) when it is blank.
func NormalizePropagators(v string) (string, error) {
	fs, err := propagation.ParseList(v)
	if err != nil {
		return "", err
	}
	if len(fs) == 0 {
		return propagation.None, nil
	}
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.String()
	}
	return strings.Join(names, ","), nil
}

// FormatRate renders a sampling rate the way OTEL_TRACES_SAMPLER_ARG and
// Knative's ConfigMaps expect it: the shortest decimal that round-trips.
func FormatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }
