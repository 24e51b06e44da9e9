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

package webhook

import (
	"encoding/json"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// operation is one RFC 6902 operation.
type operation struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// templatePatch returns the JSON patch that turns raw (a Service or a
// Configuration as the API server sent it) into one whose spec.template has
// after's annotations and container env. It replaces only those members,
// whole, and only where they differ from before, so fields the Go types do
// not know are left as they are; a missing parent is added with its child.
func templatePatch(raw []byte, before, after *servingv1.RevisionTemplateSpec) ([]byte, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	spec, _ := obj["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	if tmpl == nil {
		return nil, fmt.Errorf("object has no spec.template")
	}
	var ops []operation
	if !equality.Semantic.DeepEqual(before.Annotations, after.Annotations) {
		meta, hasMeta := tmpl["metadata"].(map[string]any)
		_, hasAnn := meta["annotations"]
		switch {
		case len(after.Annotations) == 0 && hasAnn:
			ops = append(ops, operation{Op: "remove", Path: "/spec/template/metadata/annotations"})
		case len(after.Annotations) == 0:
		case hasMeta:
			ops = append(ops, operation{Op: "add", Path: "/spec/template/metadata/annotations", Value: after.Annotations})
		default:
			ops = append(ops, operation{Op: "add", Path: "/spec/template/metadata", Value: map[string]any{"annotations": after.Annotations}})
		}
	}
	tspec, _ := tmpl["spec"].(map[string]any)
	rawContainers, _ := tspec["containers"].([]any)
	for i := range after.Spec.Containers {
		if i >= len(before.Spec.Containers) || i >= len(rawContainers) {
			return nil, fmt.Errorf("container %d is not in the object", i)
		}
		was, now := before.Spec.Containers[i].Env, after.Spec.Containers[i].Env
		if equality.Semantic.DeepEqual(was, now) {
			continue
		}
		c, _ := rawContainers[i].(map[string]any)
		_, hasEnv := c["env"]
		path := "/spec/template/spec/containers/" + strconv.Itoa(i) + "/env"
		switch {
		case len(now) == 0 && hasEnv:
			ops = append(ops, operation{Op: "remove", Path: path})
		case len(now) == 0:
		default:
			ops = append(ops, operation{Op: "add", Path: path, Value: now})
		}
	}
	return json.Marshal(ops)
}
