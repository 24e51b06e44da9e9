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

// Package samples holds Knative Services that use kntrace, each a directory
// with a thin Go main and its Knative YAML (ko:// images, kntrace
// annotations): helloworld (HTTP through two services, with the kntrace app
// SDK), eventing (a producer, a Broker, a Trigger and a consumer that scales
// to zero) and polyglot-relay (plain OpenTelemetry SDK defaults, exporting to
// the queue-proxy's relay on localhost:4318). The local cluster's scenarios
// (test/cluster) and make demo apply the YAML unchanged with ko apply.
package samples
