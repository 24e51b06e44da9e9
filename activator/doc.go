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

// Package activator runs Knative's activator (knative.dev/serving
// v0.50.0, pkg/activator/...) with kntrace's activatorhooks. Upstream's
// cmd/activator has no extension point, so this package composes the same
// packages the same way: the same flags (knative.dev/pkg injection: --kubeconfig,
// --server, klog's), the same environment (POD_NAME, POD_IP,
// MAX_IDLE_PROXY_CONNS, MAX_IDLE_PROXY_CONNS_PER_HOST, PROBE_TIMEOUT,
// PROBE_FREQUENCY, SYSTEM_NAMESPACE, ACTIVATOR_* TLS settings), the same
// ports (8012 HTTP/1, 8013 h2c, 8112 TLS when system-internal-tls is on,
// 8008 profiling), probes, informers, stat reporting to the autoscaler
// and drain on SIGTERM. docs/activator.md lists every difference; in short:
//
//   - sampling is parent-based (conventions.SamplerEnv), keeps every
//     request that waits for a cold start, and spans go through
//     spanbuffer.Buffer instead of the SDK's batch span processor, so a
//     collector outage longer than the exporter's timeout costs none;
//   - the propagation bridge is the global propagator and the request
//     span's extractor, and stale context headers are not forwarded;
//   - the throttler and the transport to the queue-proxy are wrapped by
//     activatorhooks (wait attributes, cold-start phases, the timeline
//     header removed);
//   - errors during start-up are returned to main instead of exiting deep
//     inside.
package activator
