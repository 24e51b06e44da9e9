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
	"fmt"
	"strings"
)

// Namespaces Knative installs its components and ConfigMaps in.
const (
	ServingNamespace  = "knative-serving"
	EventingNamespace = "knative-eventing"
)

// ConfigMap names.
const (
	ObservabilityConfigName = "config-observability"
	LegacyConfigName        = "config-tracing"
)

// Keys of config-observability (Knative 1.19+).
const (
	ProtocolKey     = "tracing-protocol"
	EndpointKey     = "tracing-endpoint"
	SamplingRateKey = "tracing-sampling-rate"
)

// Keys of the legacy config-tracing.
const (
	BackendKey        = "backend"
	ZipkinEndpointKey = "zipkin-endpoint"
	SampleRateKey     = "sample-rate"
	DebugKey          = "debug"
	EnableKey         = "enable"
)

// ExampleKey is the documentation block every shipped Knative ConfigMap has.
const ExampleKey = "_example"

// Annotations.
const (
	// ExampleChecksumAnnotation guards _example; kntrace never touches either.
	ExampleChecksumAnnotation = "knative.dev/example-checksum"
	// PreviousAnnotation holds, as JSON, the tracing keys as they were before
	// kntrace's last write (null for a key that was absent).
	PreviousAnnotation = "kntrace.dev/previous-tracing"
)

// Protocols and backends.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolNone         = "none"
	ProtocolStdout       = "stdout"
	BackendZipkin        = "zipkin"
	BackendNone          = "none"
)

// Shape is which of Knative's two tracing configurations a cluster reads.
type Shape string

const (
	// ShapeObservability is config-observability, Knative 1.19 and later.
	ShapeObservability Shape = "observability"
	// ShapeLegacy is config-tracing, Knative before 1.19.
	ShapeLegacy Shape = "legacy"
)

// ParseShape parses a --shape value; "" and "auto" return "" (detect).
func ParseShape(s string) (Shape, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return "", nil
	case string(ShapeObservability), ObservabilityConfigName:
		return ShapeObservability, nil
	case string(ShapeLegacy), LegacyConfigName:
		return ShapeLegacy, nil
	}
	return "", fmt.Errorf("shape %q: want one of auto, observability (config-observability, Knative 1.19+), legacy (config-tracing, before 1.19)", s)
}

// ConfigName is the ConfigMap that holds tracing in this shape.
func (s Shape) ConfigName() string {
	if s == ShapeLegacy {
		return LegacyConfigName
	}
	return ObservabilityConfigName
}

// TracingKeys are the keys kntrace owns in this shape; nothing else is touched.
func (s Shape) TracingKeys() []string {
	if s == ShapeLegacy {
		return []string{BackendKey, ZipkinEndpointKey, SampleRateKey, DebugKey, EnableKey}
	}
	return []string{ProtocolKey, EndpointKey, SamplingRateKey}
}

// webhookLabels are the labels that make Knative's own configmap webhook
// validate a ConfigMap: serving's webhook selects on them; eventing's
// selects by namespace and fails open, so it needs none.
func webhookLabels(namespace string, shape Shape) map[string]string {
	if namespace != ServingNamespace {
		return nil
	}
	component := "observability"
	if shape == ShapeLegacy {
		component = "tracing"
	}
	return map[string]string{
		"app.kubernetes.io/name":      "knative-serving",
		"app.kubernetes.io/component": component,
	}
}
