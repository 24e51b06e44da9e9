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

package binaries

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plain"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "tool"), filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDir, dir)

	tests := []struct {
		name    string
		tool    string
		wantErr bool
	}{
		{name: "executable", tool: "tool"},
		{name: "symlink to executable", tool: "linked"},
		{name: "missing", tool: "absent", wantErr: true},
		{name: "not executable", tool: "plain", wantErr: true},
		{name: "directory", tool: "subdir", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Path(tt.tool)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Path(%q) = %q, want an error", tt.tool, got)
				}
				if !strings.Contains(err.Error(), "make tools") {
					t.Errorf("Path(%q) error %q does not say to run make tools", tt.tool, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Path(%q): %v", tt.tool, err)
			}
			if want := filepath.Join(dir, tt.tool); got != want {
				t.Errorf("Path(%q) = %q, want %q", tt.tool, got, want)
			}
		})
	}
}

func TestDir(t *testing.T) {
	tests := []struct {
		name  string
		bin   string
		cache string
		want  string
	}{
		{name: "KNTRACE_BIN wins", bin: "/x/bin", cache: "/y", want: "/x/bin"},
		{name: "XDG cache", cache: "/y", want: "/y/kntrace/bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvDir, tt.bin)
			t.Setenv("XDG_CACHE_HOME", tt.cache)
			if got := Dir(); got != tt.want {
				t.Errorf("Dir() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKubectlPrefersBuiltOne(t *testing.T) {
	dir := t.TempDir()
	want := filepath.Join(dir, "kubectl")
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDir, dir)
	got, err := Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Kubectl() = %q, want %q", got, want)
	}
}
