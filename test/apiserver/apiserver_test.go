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

package apiserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kntrace/kntrace/test/binaries"
)

// A start that fails part-way returns its error (not a panic) and leaves
// no process behind.
func TestStartFailureReturnsTheError(t *testing.T) {
	dir := t.TempDir()
	// A fake etcd that exits at once: Start must report it, quoting its log.
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{binaries.Etcd, binaries.KubeAPIServer} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho 'refusing to start: test'\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(binaries.EnvDir, bin)
	s, err := Start(context.Background(), WithDir(filepath.Join(dir, "state")))
	if err == nil || s != nil {
		t.Fatalf("Start() = %v, %v; want nil and an error", s, err)
	}
	if !strings.Contains(err.Error(), "etcd exited before etcd health") || !strings.Contains(err.Error(), "refusing to start: test") {
		t.Errorf("Start() error = %v, want etcd's early exit with its log", err)
	}
	var nilServer *Server
	nilServer.Stop() // must not panic
}
