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

// Package jaegertest builds Jaeger model traces (jaeger-idl model/v1) for
// tests: spans at fixed offsets, and requests that waited for a cold start
// as kntrace's activator records them — the leader with its phase spans,
// coarse or taken from Kubernetes' records, the followers linked to it, and
// cold starts kept in a trace of their own because the caller was not
// sampled.
package jaegertest
