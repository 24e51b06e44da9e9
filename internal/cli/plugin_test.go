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

package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kntrace/kntrace/test/binaries"
)

// The real kn (knative.dev/client v0.42.0) finds kn-trace on PATH and runs
// it as `kn trace`.
func TestRealKnRunsThePlugin(t *testing.T) {
	kn := binaries.Require(t, binaries.Kn)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "bin", "kn-trace"), "./cmd/kn-trace")
	build.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kn-trace: %v\n%s", err, out)
	}

	knRun := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, kn, args...)
		// An empty HOME: no kn config or plugins of the developer's.
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("kn %v: %v\nstdout: %s\nstderr: %s", args, err, out.String(), errb.String())
		}
		return out.String()
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"plugin list", []string{"plugin", "list"}, []string{"kn-trace", filepath.Join(dir, "bin", "kn-trace")}},
		{"trace version", []string{"trace", "version"}, []string{"kntrace ", "knative.dev/serving v0.50.0"}},
		{"trace --help", []string{"trace", "--help"}, []string{"list", "get", "doctor", "config", "version", "Examples:"}},
		{"trace get --help", []string{"trace", "get", "--help"}, []string{"kn trace get 4bf92f3577b34da6a3ce929d0e0e4736", "--width"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := knRun(t, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("kn %v output lacks %q:\n%s", tc.args, w, out)
				}
			}
		})
	}
}
