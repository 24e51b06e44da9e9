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
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kntrace/kntrace/test/binaries"
)

// Prepare does, without root and before any test, what a cluster would
// otherwise do on its first start: it fetches the Go modules Knative's
// releases need beyond kntrace's go.mod (the network is used here and
// nowhere else), and builds into the cache the base, pause and CoreDNS
// images, Knative Serving's and Eventing's images (`ko resolve`) and the
// Collector and Jaeger images config/ names; it compiles kntrace's own
// images' packages as ko does, so that `ko apply` in a test only links. A
// cluster started afterwards only pushes the cached manifests again. It
// needs crane, ko, coredns, otelcol and jaeger from hack/tools.sh.
func Prepare(ctx context.Context, opts ...Option) (err error) {
	cfg := config{logf: func(string, ...any) {}}
	for _, o := range opts {
		o.apply(&cfg)
	}
	for _, t := range []string{binaries.Crane, binaries.Ko, binaries.CoreDNS, binaries.Collector, binaries.Jaeger} {
		if _, err := binaries.Path(t); err != nil {
			return err
		}
	}
	if cfg.cacheDir == "" {
		cfg.cacheDir = filepath.Join(filepath.Dir(binaries.Dir()), "cluster")
	}
	if cfg.moduleDir == "" {
		if cfg.moduleDir, err = moduleRoot(); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "kntrace-cluster-prepare-")
	if err != nil {
		return err
	}
	c := &Cluster{cfg: cfg, Dir: dir, online: true}
	defer func() {
		c.Registry.stop()
		if err == nil {
			_ = os.RemoveAll(dir)
		} else {
			err = fmt.Errorf("%w (logs in %s)", err, c.logDir())
		}
	}()
	if err := os.MkdirAll(c.logDir(), 0o755); err != nil {
		return err
	}
	start := time.Now()
	if _, _, err := c.nodeImages(ctx); err != nil {
		return err
	}
	for _, r := range []knativeRelease{servingRelease, eventingRelease} {
		if _, err := c.resolveRelease(ctx, r); err != nil {
			return err
		}
	}
	if err := c.pushBackendImages(ctx); err != nil {
		return err
	}
	if err := c.warmKntrace(ctx); err != nil {
		return err
	}
	cfg.logf("cluster images ready in %s (cache %s)", time.Since(start).Round(time.Second), cfg.cacheDir)
	return nil
}
