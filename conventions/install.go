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

// What config/ installs.
const (
	// SystemNamespace is where kntrace runs and keeps its ConfigMap.
	SystemNamespace = "kntrace-system"
	// WebhookConfigurationName is kntrace's MutatingWebhookConfiguration.
	WebhookConfigurationName = "kntrace.webhook.kntrace.dev"
	// WebhookDeployment runs kntrace's webhook and controller in
	// SystemNamespace.
	WebhookDeployment = "kntrace-webhook"
)

// Jaeger's query Service config/ installs in SystemNamespace and the names
// of its query ports (gRPC for kn trace, HTTP for the UI).
const (
	JaegerService       = "jaeger"
	JaegerQueryGRPCPort = "query-grpc"
	JaegerQueryHTTPPort = "query-http"
)

// The collector tiers in SystemNamespace. The default install runs one
// collector (CollectorName: Deployment, Service, CollectorName+"-config");
// the scale-out install (scale-out/) keeps the Service CollectorName, which
// then leads to the agent on the caller's node (AgentName: DaemonSet,
// AgentName+"-config"), and adds the gateways (GatewayName: StatefulSet,
// headless Service, GatewayName+"-config").
const (
	CollectorName = "otel-collector"
	AgentName     = "otel-agent"
	GatewayName   = "otel-gateway"
	// CollectorConfigKey is the key of the collectors' ConfigMaps that
	// holds their configuration.
	CollectorConfigKey = "collector.yaml"
	// JaegerConfigKey is the key of Jaeger's ConfigMap
	// (JaegerService+"-config") that holds its configuration.
	JaegerConfigKey = "jaeger.yaml"
)

// The OTLP/HTTP relay of kntrace's queue-proxy, inside every pod that runs
// it: where OpenTelemetry SDKs in every language export by default.
const (
	RelayAddress  = "127.0.0.1:4318"
	RelayEndpoint = "http://" + RelayAddress
)

// PodstartName is the Deployment and Service of kntrace's podstart
// component in SystemNamespace: the OTLP/gRPC receiver of the kubelet's,
// the container runtime's and the API server's spans (PodstartOTLPPort) and
// the activator's cold-start reports (PodstartReportPort).
const (
	PodstartName       = "podstart"
	PodstartOTLPPort   = 4317
	PodstartReportPort = 8080
	// PodstartNodePort is the NodePort (Service PodstartName+"-node") the
	// kubelet, the API server and containerd export to from the nodes.
	PodstartNodePort = 30317
)
