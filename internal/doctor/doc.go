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

// Package doctor is what `kn trace doctor` checks, apart from the command
// that runs it (internal/cli): Run reads the cluster through the Kubernetes
// and Knative clients and probes the collector and Jaeger, and returns one
// Check a line, each failure with its fix.
//
// The checks, a file each: the Knative version, the shape of its tracing
// ConfigMaps and every configuration hazard in them, and sampler variables
// on Knative's Deployments (knative.go); the collector and Jaeger answering
// (backends.go); kntrace's webhook installed, ready and answering a dry-run
// Service, and kntrace's queue-proxy and activator installed (install.go);
// Services asking for injection without it, and config-features'
// queueproxy.mount-podinfo (services.go); which collector install runs
// (one collector, or scale-out agents and gateways) and, for scale-out, the
// agents ready and reachable, the gateways the agents resolve, a policy
// keeping every cold start, the persistent queues' storage, the sampling
// mode and Jaeger's store (pipeline.go). A check never stops the others.
package doctor
