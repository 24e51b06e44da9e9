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
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/kntrace/kntrace/test/binaries"
)

// KoEnv is the environment a user of this cluster gives ko: images go to
// the cluster's registry (KO_DOCKER_REPO=HOST/repo), built on the cluster's
// base image, and `ko apply` finds the cluster (KUBECONFIG) and the kubectl
// hack/tools.sh built (PATH). Go never reaches the network (GOPROXY=off):
// everything ko builds is in the module cache.
func (c *Cluster) KoEnv(repo string) []string {
	return []string{
		"KO_DOCKER_REPO=" + c.Registry.Host + "/" + repo,
		"KO_DEFAULTBASEIMAGE=" + c.BaseImage,
		"KUBECONFIG=" + c.Kubeconfig,
		"PATH=" + binaries.Dir() + string(os.PathListSeparator) + os.Getenv("PATH"),
		"GOFLAGS=-mod=readonly -buildvcs=false",
		"GOPROXY=off",
		"GOWORK=off",
	}
}

// Ko runs ko with args in the kntrace module (ko:// import paths resolve
// against its go.mod) with KoEnv(repo), and returns its standard output.
func (c *Cluster) Ko(ctx context.Context, repo string, args ...string) (string, error) {
	ko, err := binaries.Path(binaries.Ko)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ko, args...)
	if nice, err := exec.LookPath("nice"); err == nil {
		// A build on a shared 2-core machine yields to the cluster.
		cmd = exec.CommandContext(ctx, nice, append([]string{"-n", "10", ko}, args...)...)
	}
	cmd.Dir = c.cfg.moduleDir
	cmd.Env = append(os.Environ(), c.KoEnv(repo)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		tail := stderr.String()
		if len(tail) > 4000 {
			tail = "…" + tail[len(tail)-4000:]
		}
		return out.String(), fmt.Errorf("ko %s (in %s): %v\n%s", strings.Join(args, " "), c.cfg.moduleDir, err, tail)
	}
	return out.String(), nil
}
