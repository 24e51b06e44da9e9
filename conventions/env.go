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

// OpenTelemetry environment variables, as the specification defines them.
const (
	EnvSDKDisabled        = "OTEL_SDK_DISABLED"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvPropagators        = "OTEL_PROPAGATORS"
	EnvSampler            = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint     = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol     = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvHeaders            = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvTracesHeaders      = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvCompression        = "OTEL_EXPORTER_OTLP_COMPRESSION"
	EnvTracesCompression  = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
	// EnvBatchSize, EnvScheduleDelay (milliseconds) and EnvExportTimeout
	// (milliseconds) configure the SDK's batch span processor; kntrace's
	// span buffer honours them too.
	EnvBatchSize     = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
	EnvScheduleDelay = "OTEL_BSP_SCHEDULE_DELAY"
	EnvExportTimeout = "OTEL_BSP_EXPORT_TIMEOUT"
)

// OTLP protocols, as OTEL_EXPORTER_OTLP_PROTOCOL and Knative's
// config-observability tracing-protocol spell them. Knative also takes
// ProtocolNone and ProtocolStdout, which export nothing to a collector.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
	ProtocolNone         = "none"
	ProtocolStdout       = "stdout"
)

// TracesPath is the OTLP/HTTP path of trace exports.
const TracesPath = "/v1/traces"

// EnvJaeger is where kn trace finds Jaeger's query gRPC API (host:port)
// when --jaeger is not given.
const EnvJaeger = "KNTRACE_JAEGER"

// EnvPodstart is where kntrace's activator posts its cold-start reports
// (the podstart service's base URL, e.g.
// http://podstart.kntrace-system.svc.cluster.local:8080); unset, it posts
// none and the cold starts keep their coarse phases.
const EnvPodstart = "KNTRACE_PODSTART_ENDPOINT"
