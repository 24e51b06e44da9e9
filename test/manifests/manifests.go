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

package manifests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Set names YAML files or directories inside one Go module.
type Set struct {
	Module string
	// Version is the module version; empty means the version this
	// repository's go.mod requires.
	Version string
	Paths   []string
}

// The Knative sets the tests and the local plane apply.
var (
	ServingCore = Set{Module: "knative.dev/serving", Paths: []string{
		"config/core/100-namespace.yaml", "config/core/300-resources", "config/core/configmaps",
	}}
	NetworkingCore = Set{Module: "knative.dev/networking", Paths: []string{
		"config/certificate.yaml", "config/domain-claim.yaml", "config/ingress.yaml",
		"config/serverlessservice.yaml", "config/config-network.yaml",
	}}
	EventingCore = Set{Module: "knative.dev/eventing", Paths: []string{
		"config/core/100-namespace.yaml", "config/core/resources", "config/core/configmaps",
	}}
	InMemoryChannel = Set{Module: "knative.dev/eventing", Paths: []string{
		"config/channels/in-memory-channel/resources", "config/channels/in-memory-channel/configmaps",
	}}
	// LegacyServing is Knative Serving 1.15 (v0.42.2), the last shape with
	// tracing in config-tracing only.
	LegacyServing = Set{Module: "knative.dev/serving", Version: "v0.42.2", Paths: []string{
		"config/core/100-namespace.yaml", "config/core/configmaps",
	}}
)

// Sets are every set the tests apply: Fetch downloads their modules in the
// build step, so no test reaches the network.
var Sets = []Set{ServingCore, NetworkingCore, EventingCore, InMemoryChannel, LegacyServing}

// Fetch downloads the module of every set in Sets into the module cache (the
// one step that may use the network; hack/test.sh runs it before the tests).
func Fetch(ctx context.Context) error {
	for _, s := range Sets {
		if _, err := moduleDir(ctx, s.Module, s.Version, true); err != nil {
			return err
		}
	}
	return nil
}

// MainModuleDir returns the directory of the main module of the working
// directory (go env GOMOD): the kntrace checkout when run from it.
func MainModuleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the kntrace checkout")
	}
	return filepath.Dir(gomod), nil
}

// ModuleDir returns the module cache directory of module@version (version
// "" = this repository's requirement). It never reaches the network: a
// module that is not in the cache is an error that says how to fetch it.
func ModuleDir(ctx context.Context, module, version string) (string, error) {
	return moduleDir(ctx, module, version, false)
}

func moduleDir(ctx context.Context, module, version string, network bool) (string, error) {
	arg := module
	if version != "" {
		arg += "@" + version
	}
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", arg)
	if !network {
		cmd.Env = append(os.Environ(), "GOPROXY=off")
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	runErr := cmd.Run()
	var info struct {
		Dir   string
		Error string
	}
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.Dir == "" {
		hint := ""
		if !network {
			hint = " (tests do not download: run `go run ./test/cmd/fetchmodules`, as make test does)"
		}
		return "", fmt.Errorf("locate %s in the module cache%s: %v %s %s", arg, hint, runErr, info.Error, strings.TrimSpace(stderr.String()))
	}
	return info.Dir, nil
}

// Read returns every object in the set's YAML files, in file order.
func (s Set) Read(ctx context.Context) ([]*unstructured.Unstructured, error) {
	dir, err := ModuleDir(ctx, s.Module, s.Version)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, p := range s.Paths {
		root := filepath.Join(dir, p)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s@%s %s: %w", s.Module, s.Version, p, err)
		}
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		o, err := ReadFile(f)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	return objs, nil
}

// ReadFile parses every YAML document in path.
func ReadFile(path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// Decode parses a multi-document YAML stream; empty documents are skipped.
func Decode(b []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := utilyaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// Applier creates or updates objects with server-side apply.
type Applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// NewApplier returns an Applier for cfg.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// ApplySets reads and applies the sets in order.
func ApplySets(ctx context.Context, cfg *rest.Config, sets ...Set) error {
	a, err := NewApplier(cfg)
	if err != nil {
		return err
	}
	var all []*unstructured.Unstructured
	for _, s := range sets {
		objs, err := s.Read(ctx)
		if err != nil {
			return err
		}
		all = append(all, objs...)
	}
	return a.Apply(ctx, all)
}

// Apply applies objs: CRDs and namespaces first (waiting until the CRDs are
// served), then everything else.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	rank := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			return 0
		case "Namespace":
			return 1
		}
		return 2
	}
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
	var crds []*unstructured.Unstructured
	waited := false
	for _, o := range sorted {
		if rank(o) > 0 && !waited {
			if err := a.waitEstablished(ctx, crds); err != nil {
				return err
			}
			waited = true
		}
		if err := a.ApplyOne(ctx, o); err != nil {
			return err
		}
		if rank(o) == 0 {
			crds = append(crds, o)
		}
	}
	if !waited {
		return a.waitEstablished(ctx, crds)
	}
	return nil
}

// ApplyOne applies one object with server-side apply, field manager kntrace-test.
func (a *Applier) ApplyOne(ctx context.Context, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		a.mapper.Reset()
		mapping, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, o.GetName(), err)
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := o.GetNamespace()
		if ns == "" {
			ns = "default"
		}
		ri = a.dyn.Resource(mapping.Resource).Namespace(ns)
	}
	body, err := json.Marshal(o.Object)
	if err != nil {
		return err
	}
	force := true
	_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "kntrace-test", Force: &force})
	if err != nil {
		return fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, o.GetNamespace(), o.GetName(), err)
	}
	return nil
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func (a *Applier) waitEstablished(ctx context.Context, crds []*unstructured.Unstructured) error {
	const timeout = 30 * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, crd := range crds {
		for {
			got, err := a.dyn.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err == nil && established(got) {
				break
			}
			if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established within %s", crd.GetName(), timeout)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	a.mapper.Reset()
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
