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

// Package backends starts the real telemetry backends the component and
// pipeline tests use: an OpenTelemetry Collector (built with the official
// builder) exporting to a Jaeger v2 with in-memory storage, each on free
// loopback ports with a generated configuration.
//
// It needs no testing.T: StartJaeger, NewCollector and StartStack take a
// context and options, and every process is stopped with Stop. Start (for
// tests) wraps StartStack and registers the cleanup.
//
// The Collector can be created without starting it, then started, stopped and
// started again on the same ports, so a test can reproduce "the collector comes
// up five seconds after the app".
package backends
