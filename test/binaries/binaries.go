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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvDir names the environment variable that overrides the directory the
// tools are looked up in.
const EnvDir = "KNTRACE_BIN"

// Names of the tools hack/tools.sh builds.
const (
	Etcd          = "etcd"
	KubeAPIServer = "kube-apiserver"
	Collector     = "otelcol"
	Jaeger        = "jaeger"
	Kn            = "kn"
)

// Names of the further tools a local Kubernetes cluster runs (test/cluster),
// also built by hack/tools.sh.
const (
	KubeControllerManager = "kube-controller-manager"
	KubeScheduler         = "kube-scheduler"
	Kubelet               = "kubelet"
	KubeProxy             = "kube-proxy"
	// Crane is go-containerregistry's crane; `crane registry serve` is the
	// cluster's image registry.
	Crane   = "crane"
	Ko      = "ko"
	CoreDNS = "coredns"
	Traefik = "traefik"
)

// QueueUpstream is Knative's queue-proxy, which hack/tools.sh builds from
// the project's own go.mod, for comparison with kntrace's build.
const QueueUpstream = "queue-upstream"

// Dir is where the built tools are linked: $KNTRACE_BIN, or
// ${XDG_CACHE_HOME:-$HOME/.cache}/kntrace/bin.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "kntrace", "bin")
}

// Path returns the absolute path of the named tool, or an error that says
// how to build it.
func Path(name string) (string, error) {
	p := filepath.Join(Dir(), name)
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not built in %s: run `make tools` (or set %s to the directory holding it)", name, Dir(), EnvDir)
	}
	return p, nil
}

// Require returns the path of the named tool and fails the test when it is
// missing: a missing component is a failure, never a skip.
func Require(tb testing.TB, name string) string {
	tb.Helper()
	p, err := Path(name)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// Kubectl returns the kubectl v1.35 that `make tools` builds, or else the
// kubectl on PATH.
func Kubectl() (string, error) {
	if p, err := Path("kubectl"); err == nil {
		return p, nil
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		return "", fmt.Errorf("kubectl is neither built in %s nor on PATH: run `make tools`", Dir())
	}
	return p, nil
}
