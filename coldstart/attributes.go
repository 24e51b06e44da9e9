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

package coldstart

import (
	"os"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// KnativeAttributes are the faas.* and k8s.* attributes Knative's environment
// gives: in an app container K_SERVICE, K_CONFIGURATION, K_REVISION; in the
// queue-proxy SERVING_SERVICE, SERVING_CONFIGURATION, SERVING_REVISION,
// SERVING_POD, SERVING_NAMESPACE; the pod name and namespace from POD_NAME /
// POD_NAMESPACE (downward API) or HOSTNAME. Empty values are left out.
func KnativeAttributes(getenv func(string) string) []attribute.KeyValue {
	if getenv == nil {
		getenv = os.Getenv
	}
	first := func(names ...string) string {
		for _, n := range names {
			if v := getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	var kvs []attribute.KeyValue
	if v := first("K_SERVICE", "SERVING_SERVICE", "K_CONFIGURATION", "SERVING_CONFIGURATION"); v != "" {
		kvs = append(kvs, semconv.FaaSName(v))
	}
	if v := first("K_REVISION", "SERVING_REVISION"); v != "" {
		kvs = append(kvs, semconv.FaaSVersion(v))
	}
	if v := first("POD_NAME", "SERVING_POD", "HOSTNAME"); v != "" {
		kvs = append(kvs, semconv.FaaSInstance(v), semconv.K8SPodName(v))
	}
	if v := first("POD_NAMESPACE", "SERVING_NAMESPACE", "NAMESPACE"); v != "" {
		kvs = append(kvs, semconv.K8SNamespaceName(v))
	}
	return kvs
}
