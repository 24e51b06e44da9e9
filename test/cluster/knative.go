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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/manifests"
)

// Knative's system namespaces.
const (
	ServingNamespace  = "knative-serving"
	EventingNamespace = "knative-eventing"
)

// Domain is the domain of the cluster's Knative routes
// (config-domain): a Service NAME in NAMESPACE answers at
// NAME.NAMESPACE.example.com through the ingress.
const Domain = "example.com"

// restoredFile is a file of a release's config/ that is a symbolic link in
// git: Go module zips leave symbolic links out, so it is copied from where
// the link points.
type restoredFile struct {
	// dst is the path in the release's module.
	dst string
	// module holds the target ("" for the release's own), at the version
	// the release's go.mod requires.
	module string
	src    string
}

// knativeRelease is a Knative product as its own release installs it: the
// YAML under config/ of its Go module, images built by `ko resolve -R`.
type knativeRelease struct {
	name       string
	module     string
	dirs       []string
	restore    []restoredFile
	namespace  string
	configure  func(c *Cluster, o *unstructured.Unstructured)
	components []string
}

var servingRelease = knativeRelease{
	name:   "serving",
	module: "knative.dev/serving",
	dirs:   []string{"config/core"},
	restore: []restoredFile{
		{dst: "config/core/300-imagecache.yaml", module: "knative.dev/caching", src: "config/image.yaml"},
		{dst: "config/core/300-resources/certificate.yaml", module: "knative.dev/networking", src: "config/certificate.yaml"},
		{dst: "config/core/300-resources/domain-claim.yaml", module: "knative.dev/networking", src: "config/domain-claim.yaml"},
		{dst: "config/core/300-resources/ingress.yaml", module: "knative.dev/networking", src: "config/ingress.yaml"},
		{dst: "config/core/300-resources/serverlessservice.yaml", module: "knative.dev/networking", src: "config/serverlessservice.yaml"},
		{dst: "config/core/configmaps/network.yaml", module: "knative.dev/networking", src: "config/config-network.yaml"},
	},
	namespace:  ServingNamespace,
	configure:  configureServing,
	components: []string{"activator", "autoscaler", "controller", "webhook"},
}

var eventingRelease = knativeRelease{
	name:   "eventing",
	module: "knative.dev/eventing",
	dirs:   []string{"config/core", "config/channels/in-memory-channel", "config/brokers/mt-channel-broker"},
	restore: []restoredFile{
		{dst: "config/core/configmaps/eventing-integrations-images.yaml", src: "third_party/eventing-integrations-latest/eventing-integrations-images.yaml"},
		{dst: "config/core/configmaps/eventing-transformations-images.yaml", src: "third_party/eventing-integrations-latest/eventing-transformations-images.yaml"},
	},
	namespace: EventingNamespace,
	components: []string{"eventing-controller", "eventing-webhook", "job-sink", "imc-controller", "imc-dispatcher",
		"mt-broker-controller", "mt-broker-filter", "mt-broker-ingress"},
}

// configureServing is what a platform team sets in Serving's ConfigMaps for
// this cluster: Traefik as the ingress, routes under Domain, tags of the
// local registry used as they are (the controller cannot reach 127.0.0.1
// from its pod to resolve them), and an autoscaler fast enough for tests (a
// revision is at zero ≈35 s after its last request).
func configureServing(c *Cluster, o *unstructured.Unstructured) {
	if o.GetKind() != "ConfigMap" || o.GetNamespace() != ServingNamespace {
		return
	}
	set := map[string]map[string]string{
		"config-network": {"ingress-class": TraefikIngressClass},
		"config-domain":  {Domain: ""},
		"config-deployment": {
			"registries-skipping-tag-resolving": "kind.local,ko.local,dev.local," + c.Registry.Host,
		},
		"config-autoscaler": {
			"stable-window":                      "6s",
			"scale-to-zero-grace-period":         "6s",
			"scale-to-zero-pod-retention-period": "0s",
		},
	}[o.GetName()]
	if len(set) == 0 {
		return
	}
	data, _, _ := unstructured.NestedStringMap(o.Object, "data")
	if data == nil {
		data = map[string]string{}
	}
	for k, v := range set {
		data[k] = v
	}
	_ = unstructured.SetNestedStringMap(o.Object, data, "data")
}

// InstallServing installs Knative Serving v0.50.0 (controller, webhook,
// autoscaler, activator) from its config/core, its images built by ko, and
// waits until its Deployments are available. Traefik's Knative provider is
// its ingress (see InstallTraefik).
func (c *Cluster) InstallServing(ctx context.Context) error {
	return c.step("Knative Serving", func() error { return c.installRelease(ctx, servingRelease) })
}

// InstallEventing installs Knative Eventing v0.50.0 (controller, webhook,
// the in-memory channel and the MT channel broker) from its config/, its
// images built by ko, and waits until its Deployments are available.
func (c *Cluster) InstallEventing(ctx context.Context) error {
	return c.step("Knative Eventing", func() error { return c.installRelease(ctx, eventingRelease) })
}

func (c *Cluster) installRelease(ctx context.Context, r knativeRelease) error {
	yaml, err := c.resolveRelease(ctx, r)
	if err != nil {
		return err
	}
	objs, err := manifests.Decode([]byte(yaml))
	if err != nil {
		return fmt.Errorf("Knative %s: resolved YAML: %w", r.name, err)
	}
	for _, o := range objs {
		if r.configure != nil {
			r.configure(c, o)
		}
	}
	applied := time.Now()
	if err := c.applyWithWebhooks(ctx, objs); err != nil {
		return fmt.Errorf("apply Knative %s: %w", r.name, err)
	}
	c.cfg.logf("Knative %s: applied in %s", r.name, time.Since(applied).Round(time.Millisecond))
	for _, d := range r.components {
		if err := c.WaitDeploymentReady(ctx, r.namespace, d, c.cfg.readyTimeout); err != nil {
			return err
		}
		c.cfg.logf("Knative %s: %s available %s after the apply", r.name, d, time.Since(applied).Round(time.Millisecond))
	}
	return nil
}

// applyWithWebhooks applies objs as `kubectl apply` would, in three
// passes: CRDs and namespaces (until the CRDs are served), everything else,
// then the release's webhook configurations, so that nothing the release's
// own webhooks validate (its ConfigMaps) is refused while their pods are not
// serving yet and no controller waits in a crash loop for a ConfigMap. What
// is refused all the same is applied again, bounded, until it is accepted.
func (c *Cluster) applyWithWebhooks(ctx context.Context, objs []*unstructured.Unstructured) error {
	a, err := manifests.NewApplier(c.Config)
	if err != nil {
		return err
	}
	var crdsAndNamespaces, rest, webhooks []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition", "Namespace":
			crdsAndNamespaces = append(crdsAndNamespaces, o)
		case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
			webhooks = append(webhooks, o)
		default:
			rest = append(rest, o)
		}
	}
	if err := a.Apply(ctx, crdsAndNamespaces); err != nil {
		return err
	}
	pending := append(rest, webhooks...)
	var lastErr error
	err = c.poll(ctx, c.cfg.readyTimeout, "every object accepted (the release's webhooks serving)", func(ctx context.Context) (string, error) {
		var failed []*unstructured.Unstructured
		var errs []string
		for _, o := range pending {
			if err := a.ApplyOne(ctx, o); err != nil {
				failed = append(failed, o)
				errs = append(errs, err.Error())
				lastErr = err
			}
		}
		pending = failed
		if len(pending) == 0 {
			return "", nil
		}
		return fmt.Sprintf("%d refused, e.g. %s", len(pending), errs[0]), nil
	})
	if err != nil && lastErr != nil {
		return errors.Join(err, lastErr)
	}
	return err
}

// resolveRelease returns the release's YAML with every ko:// image built and
// pushed to the registry, from the cache when nothing it is made of
// changed.
func (c *Cluster) resolveRelease(ctx context.Context, r knativeRelease) (string, error) {
	work := filepath.Join(c.Dir, "knative", r.name)
	if err := c.copyRelease(ctx, r, work); err != nil {
		return "", err
	}
	key, err := c.releaseKey(ctx, work)
	if err != nil {
		return "", err
	}
	entry := filepath.Join(c.cfg.cacheDir, "knative", r.name+"-"+key)
	if yaml, err := c.Registry.cachedYAML(ctx, entry); err == nil {
		c.cfg.logf("Knative %s: images from the cache (%s)", r.name, entry)
		return yaml, nil
	} else if !errors.Is(err, errNotCached) {
		return "", err
	}
	args := []string{"resolve", "-R", "-B", "--sbom=none"}
	for _, d := range r.dirs {
		args = append(args, "-f", filepath.Join(work, d))
	}
	var yaml string
	var start time.Time
	if err := c.withToolsLock(ctx, func() error {
		c.cfg.logf("Knative %s: building its images with ko (cold: several minutes on 2 cores)", r.name)
		start = time.Now()
		defer c.heartbeat("Knative " + r.name + ": still building its images")()
		var err error
		yaml, err = c.Ko(ctx, "knative-"+r.name, args...)
		return err
	}); err != nil {
		return "", fmt.Errorf("build Knative %s's images: %w", r.name, err)
	}
	c.cfg.logf("Knative %s: images built in %s", r.name, time.Since(start).Round(time.Second))
	if err := c.Registry.cacheYAML(ctx, entry, yaml); err != nil {
		return "", fmt.Errorf("cache Knative %s's images: %w", r.name, err)
	}
	return yaml, nil
}

// copyRelease copies the release's config directories out of the module
// cache into work and restores the files module zips leave out.
func (c *Cluster) copyRelease(ctx context.Context, r knativeRelease, work string) error {
	dir, version, err := c.moduleDir(ctx, r.module, "")
	if err != nil {
		return err
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	for _, d := range r.dirs {
		if err := copyTree(filepath.Join(dir, d), filepath.Join(work, d)); err != nil {
			return fmt.Errorf("copy %s@%s %s: %w", r.module, version, d, err)
		}
	}
	for _, f := range r.restore {
		from := filepath.Join(dir, f.src)
		if f.module != "" {
			pin, err := requiredVersion(filepath.Join(dir, "go.mod"), f.module)
			if err != nil {
				return err
			}
			mdir, _, err := c.moduleDir(ctx, f.module, pin)
			if err != nil {
				return err
			}
			from = filepath.Join(mdir, f.src)
		}
		b, err := os.ReadFile(from)
		if err != nil {
			return fmt.Errorf("%s@%s: %s is a symbolic link in git, left out of the module zip, and its target is missing: %w", r.module, version, f.dst, err)
		}
		if err := os.WriteFile(filepath.Join(work, f.dst), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// moduleDir returns the module cache directory of module at version (""
// for the version the kntrace module requires), without the network
// unless the cluster is preparing (Prepare fetches what is missing).
func (c *Cluster) moduleDir(ctx context.Context, module, version string) (dir, v string, err error) {
	arg, args := module, []string{"list", "-m", "-json", module}
	if version != "" {
		arg = module + "@" + version
		args = []string{"mod", "download", "-json", arg}
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = c.cfg.moduleDir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOWORK=off")
	if !c.online {
		cmd.Env = append(cmd.Env, "GOPROXY=off")
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Version, Error string }
	_ = json.Unmarshal(out.Bytes(), &info)
	if info.Dir == "" {
		return "", "", fmt.Errorf("%s is not in the Go module cache (%v %s %s): run `go run ./test/cmd/kntrace-cluster prepare` (make test does) to fetch it",
			arg, runErr, info.Error, strings.TrimSpace(stderr.String()))
	}
	return info.Dir, info.Version, nil
}

// requiredVersion reads the version gomod requires of module.
func requiredVersion(gomod, module string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(module) + `\s+(v\S+)`).FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s does not require %s", gomod, module)
	}
	return string(m[1]), nil
}

var koRefPattern = regexp.MustCompile(`ko://([A-Za-z0-9._/-]+)`)

// releaseKey hashes what the release's images and YAML are made of: the
// YAML, the modules (path@version) of every package ko builds, the base
// image and ko itself.
func (c *Cluster) releaseKey(ctx context.Context, work string) (string, error) {
	h := sha256.New()
	pkgs := map[string]bool{}
	var files []string
	if err := filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}); err != nil {
		return "", err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(work, f)
		fmt.Fprintf(h, "%s %x\n", rel, sha256.Sum256(b))
		for _, m := range koRefPattern.FindAllSubmatch(b, -1) {
			pkgs[string(m[1])] = true
		}
	}
	list := make([]string, 0, len(pkgs))
	for p := range pkgs {
		list = append(list, p)
	}
	sort.Strings(list)
	cmd := exec.CommandContext(ctx, "go", append([]string{"list", "-deps", "-f",
		"{{with .Module}}{{.Path}}@{{.Version}}{{with .Replace}}=>{{.Path}}@{{.Version}}{{end}}{{end}}"}, list...)...)
	cmd.Dir = c.cfg.moduleDir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOWORK=off", "CGO_ENABLED=0")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("list the modules of %s: %v: %s (each must be a `tool` of the kntrace go.mod)", strings.Join(list, " "), err, strings.TrimSpace(stderr.String()))
	}
	mods := strings.Fields(out.String())
	sort.Strings(mods)
	prev := ""
	for _, m := range mods {
		if m != prev {
			fmt.Fprintln(h, m)
		}
		prev = m
	}
	fmt.Fprintln(h, c.BaseImage[strings.Index(c.BaseImage, "@")+1:])
	if ko, err := binaries.Path(binaries.Ko); err == nil {
		if st, err := os.Stat(ko); err == nil {
			fmt.Fprintln(h, st.Size(), st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// withToolsLock runs a heavy build under hack/tools.sh's lock, so that it
// never competes with another build for the machine's cores.
func (c *Cluster) withToolsLock(ctx context.Context, build func() error) error {
	path := filepath.Join(filepath.Dir(binaries.Dir()), ".tools.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("build lock %s: %w", path, err)
	}
	defer f.Close()
	logged := false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if !logged {
			c.cfg.logf("waiting for another build (hack/tools.sh holds %s)", path)
			logged = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return build()
}
