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

// Package revisions computes what kntrace adds to a Knative Revision template
// (spec.template of a Service or a Configuration) so that every new revision's
// pods export traces with the right propagators and sampler, and removes
// exactly that again.
//
// Tracing is asked for with annotations, on the object's metadata or on
// spec.template.metadata (the template wins):
//
//	kntrace.dev/inject: "true"          # or "false" to opt out of a namespace default
//	kntrace.dev/sampling-rate: "0.25"   # a number in [0, 1]; default from config-kntrace
//	kntrace.dev/propagators: "tracecontext,baggage,b3"
//	kntrace.dev/relay-max-bytes: "32Mi"          # the in-pod relay's queue, 64Ki to 1Gi
//	kntrace.dev/relay-max-request-bytes: "4Mi"   # one export to the relay
//	kntrace.dev/relay-drain-timeout: "20s"       # the relay's drain at pod stop, 100ms to 5m
//
// or for a whole namespace with the label kntrace.dev/inject=enabled.
// Defaults come from kntrace's own ConfigMap, config-kntrace in
// kntrace-system (see settings.Config); in its tail sampling mode the
// sampler's rate is 1 unless the object sets kntrace.dev/sampling-rate.
//
// On each container of the template Patch sets OTEL_SERVICE_NAME,
// OTEL_EXPORTER_OTLP_ENDPOINT (kntrace's in-pod relay http://127.0.0.1:4318
// when kntrace's queue-proxy is installed, the collector otherwise),
// OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, OTEL_PROPAGATORS,
// OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG and
// OTEL_RESOURCE_ATTRIBUTES; on the template it sets
// features.knative.dev/queueproxy-podinfo: enabled so that kntrace's
// queue-proxy can read the revision's annotations, and the relay limits
// that come from the object's metadata or from config-kntrace (when they
// differ from the relay's defaults) as kntrace.dev/relay-* template
// annotations, which the queue-proxy reads through the same podinfo file.
// Knative's validation refuses fieldRef env by default, so every value is a
// literal.
//
// A variable or annotation the user set is never overwritten. What kntrace
// added is recorded on the template in the annotation kntrace.dev/injected,
// so that a later patch updates only its own values (the result of applying
// it twice is byte-identical: no new Revision) and Remove takes away exactly
// what kntrace added, never a user's variable of the same name.
//
// The webhook (cmd/webhook) and `kn trace enable` both call Patch, so a
// cluster without the webhook gets the same template.
package revisions
