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

// Package conventions is kntrace's vocabulary: the names that more than one
// of its packages, or its users, must spell the same way. It holds the
// OpenTelemetry environment variables kntrace reads and sets, the OTLP
// protocol names of Knative's config-observability, the sampler kntrace
// installs and the one rule that decides its environment (SamplerEnv), the
// annotations and labels users put on Knative Services and namespaces, and
// the names of what config/ installs.
//
// It imports nothing of kntrace's, so every other package can import it,
// as OpenTelemetry keeps its environment names in one internal package and
// knative.dev/pkg its attribute keys. Names that only one package uses stay
// in that package; cold-start span, event, attribute and phase names live in
// package coldstart, which owns the timeline they describe.
package conventions
