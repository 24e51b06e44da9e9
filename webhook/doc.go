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

// Package webhook is kntrace's in-cluster component: one process that
//
//   - admits Knative Services and Configurations (serving.knative.dev/v1) as
//     a mutating admission webhook, patching their Revision template through
//     the revisions package and refusing invalid kntrace annotations with a
//     Knative field error (Admission);
//   - keeps Knative's tracing ConfigMaps (config-observability, or
//     config-tracing before Knative 1.19, in knative-serving and
//     knative-eventing) in line with config-kntrace through the configmaps
//     package, allows queueproxy.mount-podinfo in config-features and, when
//     asked, sets queue-sidecar-image in config-deployment (Converger);
//   - serves TLS with certificates that knative.dev/pkg's certificates
//     controller keeps in the Secret kntrace-webhook-certs, and writes their
//     CA into the MutatingWebhookConfiguration's caBundle (no cert-manager).
//
// Run wires knative.dev/pkg's webhook (webhook.New with a custom
// AdmissionController) and certificates controller together with kntrace's
// informers, and serves on one configurable address so that tests can bind
// it to loopback. cmd/webhook is its thin main.
//
// Several replicas run side by side (config/ ships two and a
// PodDisruptionBudget): every replica admits, while the reconciling half
// (the Converger, the caBundle and the certificates controller) runs only
// in the replica that holds knative.dev/pkg's leader-election lease, as in
// Knative's own controllers (Lease, LeaseComponent).
package webhook
