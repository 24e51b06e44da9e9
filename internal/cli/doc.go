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

// Package cli implements the kn plugin kn-trace (`kn trace …`): configure
// Knative's tracing ConfigMaps, enable tracing per service, diagnose the
// setup and read traces back out of Jaeger. cmd/kn-trace only calls Execute.
//
// Exit codes: 0 success; 1 a failure talking to the cluster or a backend;
// 2 invalid usage or input (nothing was changed); 3 a configuration refused
// because it would break or silently disable tracing (nothing was changed);
// 4 a diagnosis found failures.
package cli
