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

package cluster

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kntrace/kntrace/test/binaries"
)

func TestLayer(t *testing.T) {
	files := []File{
		{Path: "/usr/local/bin/app", Mode: 0o755, Data: []byte("binary")},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/home/nonroot", Mode: fs.ModeDir | 0o700, UID: NonRootUID, GID: NonRootUID},
	}
	gz, diffID, err := layer(files)
	if err != nil {
		t.Fatal(err)
	}
	again, diffID2, err := layer(files)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gz, again) || diffID != diffID2 {
		t.Error("the same files made two different layers: digests would change from run to run")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got := digestOf(raw); got != diffID {
		t.Errorf("diff ID %s, digest of the uncompressed tar %s", diffID, got)
	}
	type entry struct {
		Name     string
		Mode     int64
		UID      int
		Contents string
	}
	var got []entry
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got = append(got, entry{h.Name, h.Mode, h.Uid, string(b)})
	}
	want := []entry{
		{"home/", 0o755, 0, ""},
		{"home/nonroot/", 0o700, NonRootUID, ""},
		{"tmp/", 0o1777, 0, ""},
		{"usr/", 0o755, 0, ""},
		{"usr/local/", 0o755, 0, ""},
		{"usr/local/bin/", 0o755, 0, ""},
		{"usr/local/bin/app", 0o755, 0, "binary"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("layer entries (-want +got):\n%s", diff)
	}
}

func TestSplitRefAndMergeEnv(t *testing.T) {
	for _, tc := range []struct{ ref, repo, tag string }{
		{"kntrace/base@sha256:abc", "kntrace/base", "sha256:abc"},
		{"kntrace/base:v1", "kntrace/base", "v1"},
		{"kntrace/base", "kntrace/base", "latest"},
	} {
		repo, tag := splitRef(tc.ref)
		if repo != tc.repo || tag != tc.tag {
			t.Errorf("splitRef(%q) = %q, %q; want %q, %q", tc.ref, repo, tag, tc.repo, tc.tag)
		}
	}
	got := mergeEnv([]string{"PATH=/bin", "A=1"}, []string{"PATH=/usr/bin:/bin", "B=2"})
	if diff := cmp.Diff([]string{"PATH=/usr/bin:/bin", "A=1", "B=2"}, got); diff != "" {
		t.Errorf("mergeEnv (-want +got):\n%s", diff)
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/tmp/a\040b/c`); got != "/tmp/a b/c" {
		t.Errorf("unescapeMount = %q", got)
	}
}

func TestRequiredVersion(t *testing.T) {
	gomod := filepath.Join(t.TempDir(), "go.mod")
	if err := os.WriteFile(gomod, []byte("module x\n\nrequire (\n\tknative.dev/caching v0.0.0-1 // indirect\n)\nrequire knative.dev/networking v0.0.0-2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for mod, want := range map[string]string{"knative.dev/caching": "v0.0.0-1", "knative.dev/networking": "v0.0.0-2"} {
		if got, err := requiredVersion(gomod, mod); err != nil || got != want {
			t.Errorf("requiredVersion(%s) = %q, %v; want %q", mod, got, err, want)
		}
	}
	if _, err := requiredVersion(gomod, "knative.dev/pkg"); err == nil {
		t.Error("requiredVersion of a module go.mod does not require: no error")
	}
}

// TestRegistryCache builds an image into a registry, stops it, and serves
// the cached image from a second registry on another port: blobs on disk,
// manifests pushed again, the host rewritten.
func TestRegistryCache(t *testing.T) {
	crane := binaries.Require(t, binaries.Crane)
	cache := t.TempDir()
	ctx := context.Background()
	start := func() *Registry {
		state := t.TempDir()
		if err := os.MkdirAll(filepath.Join(state, "logs"), 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := startRegistry(crane, cache, state)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.stop)
		return r
	}
	r1 := start()
	spec := ImageSpec{Files: []File{{Path: "/hello", Mode: 0o644, Data: []byte("hello")}}, User: "65532"}
	ref, err := r1.BuildImage(ctx, "kntrace/hello", "latest", spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, r1.Host+"/kntrace/hello@sha256:") {
		t.Fatalf("BuildImage = %q, want %s/kntrace/hello@sha256:…", ref, r1.Host)
	}
	r1.stop()

	r2 := start()
	ref2, err := r2.BuildImage(ctx, "kntrace/hello", "latest", spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := r2.Host + strings.TrimPrefix(ref, r1.Host); ref2 != want {
		t.Errorf("cached image = %q, want %q", ref2, want)
	}
	repo, digest := splitRef(strings.TrimPrefix(ref2, r2.Host+"/"))
	for _, ref := range []string{digest, "latest"} {
		if _, _, err := r2.manifest(ctx, repo, ref); err != nil {
			t.Errorf("the second registry does not serve the cached image as %s: %v", ref, err)
		}
	}
}

// TestKntraceConfig reads the checkout's config/ as InstallKntrace does:
// the Deployments it waits for, the Collector and Jaeger images it builds,
// and the packages Prepare compiles.
func TestKntraceConfig(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{cfg: config{moduleDir: root}}
	deployments, err := c.configDeployments()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kntrace-webhook", "otel-collector", "jaeger"} {
		if !slices.Contains(deployments, KntraceNamespace+"/"+want) {
			t.Errorf("config/ Deployments %v: no %s/%s", deployments, KntraceNamespace, want)
		}
	}
	pkgs, err := c.kntracePackages()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cmd/webhook", "cmd/activator", "cmd/queue", "samples/helloworld"} {
		if !slices.Contains(pkgs, "github.com/kntrace/kntrace/"+want) {
			t.Errorf("ko:// packages %v: no %s", pkgs, want)
		}
	}
	tags, err := c.backendTags()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range backendImages {
		v, err := b.version(root)
		if err != nil {
			t.Fatal(err)
		}
		if tags[b.repo] != v {
			t.Errorf("config/ names %s:%s, want %s (the %s of hack/tools.sh)", b.repo, tags[b.repo], v, b.tool)
		}
	}
}

func TestParseRelayStopped(t *testing.T) {
	const stopped = "2026/12/02 04:10:00 INFO relay stopped logger=kntrace.queueproxy accepted_spans=12 forwarded_spans=11 dropped_spans=1 rejected_requests=0 forward_retries=3\n"
	for _, tc := range []struct {
		name, log string
		want      map[string]int
		wantErr   string
	}{{
		name: "last line",
		log:  "2026/12/02 04:09:00 INFO OTLP relay listening address=127.0.0.1:4318\n" + stopped,
		want: map[string]int{"accepted_spans": 12, "forwarded_spans": 11, "dropped_spans": 1, "rejected_requests": 0, "forward_retries": 3},
	}, {
		name: "inside a JSON record",
		log:  `{"level":"info","msg":"` + strings.TrimSpace(stopped) + `"}` + "\n",
		want: map[string]int{"accepted_spans": 12, "forwarded_spans": 11, "dropped_spans": 1, "rejected_requests": 0, "forward_retries": 3},
	}, {
		name:    "no line",
		log:     "2026/12/02 04:09:00 INFO OTLP relay listening address=127.0.0.1:4318\n",
		wantErr: `no "relay stopped" line`,
	}, {
		name:    "a counter missing",
		log:     strings.Replace(stopped, " forward_retries=3", "", 1),
		wantErr: "has no forward_retries",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRelayStopped(tc.log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
}
