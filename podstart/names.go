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

package podstart

// Spans the index looks for.
const (
	// kubelet
	spanSyncPod           = "syncPod"
	attrUpdateType        = "k8s.pod.update_type"
	updateTypeCreate      = "create"
	criRunPodSandbox      = "runtime.v1.RuntimeService/RunPodSandbox"
	criPullImage          = "runtime.v1.ImageService/PullImage"
	criCreateContainer    = "runtime.v1.RuntimeService/CreateContainer"
	criStartContainer     = "runtime.v1.RuntimeService/StartContainer"
	serviceKubelet        = "kubelet"
	serviceContainerd     = "containerd"
	serviceAPIServer      = "apiserver"
	attrHTTPTarget        = "http.target"
	attrHTTPMethod        = "http.method"
	attrHTTPRequestMethod = "http.request.method"
	attrURLPath           = "url.path"
	attrPodNamespace      = "k8s.namespace.name"
	attrPodName           = "k8s.pod.name"
	attrPodUID            = "k8s.pod.uid"
	resourceServiceName   = "service.name"

	// API server resources
	resourcePods    = "pods"
	resourceBinding = "pods/binding"
	resourceStatus  = "pods/status"
)
