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

// Package proc starts the real processes a test or the demo needs (API
// server, Collector, Jaeger, Knative binaries), captures their output in a
// log file, waits for readiness with a bounded timeout and stops them for
// sure: SIGTERM, a bounded grace period, then SIGKILL to the whole process
// group. Children also die with the parent (PR_SET_PDEATHSIG), so a crashed
// test leaves nothing behind.
package proc
