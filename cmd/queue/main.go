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

// Command queue is Knative's queue-proxy (knative.dev/serving/pkg/queue/
// sharedmain) with kntrace's options: the propagation bridge, the OTLP
// relay on 127.0.0.1:4318, parent-based sampling, cold-start marking and
// correctly parented spans. Deploy it with config/overlays/queue-proxy
// (config-deployment queue-sidecar-image); docs/queue-proxy.md lists every
// difference from upstream's cmd/queue.
package main

import (
	"os"

	"github.com/kntrace/kntrace/queueproxy"
)

func main() {
	if queueproxy.Main() != nil {
		os.Exit(1)
	}
}
