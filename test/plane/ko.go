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

package plane

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kntrace/kntrace/test/manifests"
)

// KoPrefix marks an image that is a Go import path built locally.
const KoPrefix = "ko://"

// KoLocal is the registry ko:// images resolve to when the plane applies
// YAML (as `ko apply` resolves them before Kubernetes sees them):
// ko://github.com/x/y becomes ko.local/github.com/x/y, a valid image
// reference that Knative's validation accepts.
const KoLocal = "ko.local/"

// ResolveKo returns the image reference a ko:// image is applied as; other
// images are returned unchanged.
func ResolveKo(image string) string {
	if strings.HasPrefix(image, KoPrefix) {
		return KoLocal + strings.TrimPrefix(image, KoPrefix)
	}
	return image
}

// isKo reports whether image is built locally from an import path.
func isKo(image string) bool {
	return strings.HasPrefix(image, KoPrefix) || strings.HasPrefix(image, KoLocal)
}

// koImportPath returns the import path of a ko:// or ko.local/ image
// (without tag or digest).
func koImportPath(image string) string {
	p := strings.TrimPrefix(strings.TrimPrefix(image, KoPrefix), KoLocal)
	if i := strings.Index(p, "@"); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndex(p, ":"); i > strings.LastIndex(p, "/") {
		p = p[:i]
	}
	return p
}

// resolveKoImages rewrites every "image" string that is ko:// in obj and
// returns the rewritten images.
func resolveKoImages(obj any) []string {
	var out []string
	switch v := obj.(type) {
	case map[string]any:
		for k, val := range v {
			if s, ok := val.(string); ok && k == "image" {
				if strings.HasPrefix(s, KoPrefix) {
					v[k] = ResolveKo(s)
					out = append(out, v[k].(string))
				}
				continue
			}
			out = append(out, resolveKoImages(val)...)
		}
	case []any:
		for _, val := range v {
			out = append(out, resolveKoImages(val)...)
		}
	}
	return out
}

// koBuilder builds ko:// images with go build, once per import path.
type koBuilder struct {
	moduleDir string
	outDir    string
	images    map[string]string // extra image -> binary mappings

	mu    sync.Mutex
	built map[string]string // import path -> binary
}

// binary returns the executable for image: a ko:// import path is built
// with go build in the module directory; other images must have been
// mapped with WithImage.
func (k *koBuilder) binary(ctx context.Context, image string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p, ok := k.images[image]; ok {
		return p, nil
	}
	if !isKo(image) {
		return "", fmt.Errorf("image %q: the plane runs ko://<import path> images (built with go build) or images mapped with plane.WithImage", image)
	}
	importPath := koImportPath(image)
	if p, ok := k.built[importPath]; ok {
		return p, nil
	}
	out := filepath.Join(k.outDir, strings.NewReplacer("/", "_", ".", "_").Replace(importPath))
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, importPath)
	cmd.Dir = k.moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build image %s (go build %s in %s): %v\n%s", image, importPath, k.moduleDir, err, stderr.String())
	}
	if k.built == nil {
		k.built = map[string]string{}
	}
	k.built[importPath] = out
	return out, nil
}

// moduleRoot returns the directory of the main module of the working
// directory.
func moduleRoot() (string, error) {
	dir, err := manifests.MainModuleDir()
	if err != nil {
		return "", fmt.Errorf("%w, or pass plane.WithModuleDir", err)
	}
	return dir, nil
}
