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

// Package settings is config-kntrace, kntrace's install-wide settings in
// kntrace-system: the collector Knative's components export to, the
// endpoint applications export to, the default sampling rate and
// propagators, whether traces are sampled at the head or by the scale-out
// gateways' tail sampling (HeadSamplingRate), the cluster-wide limits of the
// OTLP relay in kntrace's queue-proxy, whether kntrace's queue-proxy runs
// next to every revision and whether kntrace keeps Knative's own tracing
// ConfigMaps in line.
//
// It follows knative.dev/pkg's ConfigMap idiom: ConfigName, DefaultConfig,
// NewConfigFromMap (declarative parsing with knative.dev/pkg/configmap, then
// Validate) and NewConfigFromConfigMap. Every error names its key and what
// would be accepted. config/300-config-kntrace.yaml documents exactly the
// defaults in its _example block (a test keeps them equal).
//
// The webhook reads it to decide what to inject and what to write into
// Knative's ConfigMaps; kn trace reads it to patch templates itself when
// the webhook is not installed.
package settings
