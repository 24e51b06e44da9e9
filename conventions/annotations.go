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

package conventions

// The annotations users set on a Knative Service's or Configuration's
// metadata, or on spec.template.metadata.
const (
	// InjectAnnotation turns injection on ("true") or off ("false").
	InjectAnnotation = "kntrace.dev/inject"
	// SamplingRateAnnotation is the sampling ratio, a number in [0, 1].
	SamplingRateAnnotation = "kntrace.dev/sampling-rate"
	// PropagatorsAnnotation is an OTEL_PROPAGATORS list.
	PropagatorsAnnotation = "kntrace.dev/propagators"
	// InjectedAnnotation, on the template, records what kntrace added.
	InjectedAnnotation = "kntrace.dev/injected"
)

// NamespaceLabel set to NamespaceEnabled turns injection on for every
// Service and Configuration in a namespace.
const (
	NamespaceLabel   = "kntrace.dev/inject"
	NamespaceEnabled = "enabled"
)

// PodInfoAnnotation is Knative's: set to "enabled" on the template, it makes
// Knative mount the pod's annotations into the queue-proxy (when
// config-features allows queueproxy.mount-podinfo), which is how kntrace's
// queue-proxy reads the annotations above.
const PodInfoAnnotation = "features.knative.dev/queueproxy-podinfo"
