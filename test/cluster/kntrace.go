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
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/manifests"
	"github.com/kntrace/kntrace/webhook"
)

// KntraceNamespace is where config/ installs kntrace.
const KntraceNamespace = "kntrace-system"

// backendImage is an image config/ names that the cluster builds from a
// tool of hack/tools.sh, laid out as the upstream image is (entrypoint,
// user), and serves under the same name: containerd resolves unqualified
// names through the local registry.
type backendImage struct {
	repo, tool, path string
	env              []string
	// version is the release the tool's wrapper module builds, as the
	// upstream image tags it.
	version func(moduleDir string) (string, error)
}

var backendImages = []backendImage{
	// The Collector of tools/otelcol has the components config/ uses (OTLP
	// and Zipkin in, memory_limiter, batch, OTLP out, health_check): a
	// subset of the contrib distribution of the same core version.
	{repo: "otel/opentelemetry-collector-contrib", tool: binaries.Collector, path: "/otelcol-contrib",
		version: func(dir string) (string, error) {
			v, err := requiredVersion(filepath.Join(dir, "tools", "otelcol", "go.mod"), "go.opentelemetry.io/collector/otelcol")
			return strings.TrimPrefix(v, "v"), err
		}},
	// Jaeger tags v1.N.P and v2.(N-63).P on one commit: tools/jaeger's
	// module version is a v1 one.
	{repo: "jaegertracing/jaeger", tool: binaries.Jaeger, path: "/cmd/jaeger/jaeger-linux", env: []string{"JAEGER_LISTEN_HOST=0.0.0.0"},
		version: func(dir string) (string, error) {
			v, err := requiredVersion(filepath.Join(dir, "tools", "jaeger", "go.mod"), "github.com/jaegertracing/jaeger")
			if err != nil {
				return "", err
			}
			var minor, patch int
			if _, err := fmt.Sscanf(v, "v1.%d.%d", &minor, &patch); err != nil || minor < 63 {
				return "", fmt.Errorf("tools/jaeger builds %s: want v1.N.P with N ≥ 63 (Jaeger v2)", v)
			}
			return fmt.Sprintf("2.%d.%d", minor-63, patch), nil
		}},
}

// Overlay patches of config/overlays, applied as docs/install.md tells a
// user: `ko resolve` the patch, `kubectl patch --type=strategic` it.
var kntraceOverlays = []struct{ patch, namespace, kind, name string }{
	{"config/overlays/activator/activator.patch", ServingNamespace, "deployment", "activator"},
	{"config/overlays/queue-proxy/config-deployment.patch", ServingNamespace, "configmap", "config-deployment"},
}

// InstallKntrace installs kntrace from the checkout as docs/install.md tells
// a user: `ko apply -Rf config/` unchanged (images to the cluster's
// registry, on its base image), then the activator and queue-proxy
// overlays, and kntrace-queue-proxy: "true" in config-kntrace as
// docs/queue-proxy.md says. The Collector and Jaeger images config/ names
// are built from the tools' binaries. It returns once kntrace's webhook has
// its certificate, the Collector, Jaeger and the new activator are
// available. Install Serving first.
func (c *Cluster) InstallKntrace(ctx context.Context) error {
	return c.step("kntrace (ko apply -Rf config/, overlays)", func() error { return c.installKntrace(ctx) })
}

func (c *Cluster) installKntrace(ctx context.Context) error {
	start := time.Now()
	if err := c.pushBackendImages(ctx); err != nil {
		return err
	}
	if err := c.withToolsLock(ctx, func() error {
		_, err := c.Ko(ctx, "kntrace", "apply", "-Rf", "config/")
		return err
	}); err != nil {
		return err
	}
	c.cfg.logf("kntrace: ko apply -Rf config/ done %s after the start", time.Since(start).Round(time.Millisecond))
	for _, o := range kntraceOverlays {
		var patch string
		if err := c.withToolsLock(ctx, func() error {
			var err error
			patch, err = c.Ko(ctx, "kntrace", "resolve", "-f", o.patch)
			return err
		}); err != nil {
			return err
		}
		if _, err := c.Kubectl(ctx, "-n", o.namespace, "patch", o.kind, o.name, "--type=strategic", "--patch", patch); err != nil {
			return err
		}
	}
	c.cfg.logf("kntrace: overlays applied %s after the start", time.Since(start).Round(time.Millisecond))
	if _, err := c.Kubectl(ctx, "-n", KntraceNamespace, "patch", "configmap", "config-kntrace", "--type=merge",
		"--patch", `{"data":{"kntrace-queue-proxy":"true"}}`); err != nil {
		return err
	}
	deployments, err := c.configDeployments()
	if err != nil {
		return err
	}
	deployments = append(deployments, ServingNamespace+"/activator")
	for _, d := range deployments {
		ns, name, _ := strings.Cut(d, "/")
		if err := c.WaitDeploymentReady(ctx, ns, name, c.cfg.readyTimeout); err != nil {
			return err
		}
	}
	c.cfg.logf("kntrace: %s available %s after the start", strings.Join(deployments, ", "), time.Since(start).Round(time.Millisecond))
	// Knative's activator drains for about 30 s after SIGTERM; until it is
	// gone two activators share the traffic.
	if err := c.poll(ctx, c.cfg.readyTimeout, "Knative's activator replaced by kntrace's", func(ctx context.Context) (string, error) {
		pods, err := c.Client.CoreV1().Pods(ServingNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app=activator,kntrace.dev/activator!=kntrace"})
		if err != nil {
			return err.Error(), nil
		}
		if len(pods.Items) == 0 {
			return "", nil
		}
		return describePod(&pods.Items[0]), nil
	}); err != nil {
		return err
	}
	c.cfg.logf("kntrace: Knative's activator gone %s after the start", time.Since(start).Round(time.Millisecond))
	// kntrace's controller writes Knative's tracing configuration and
	// allows the podinfo mount; a revision made before that would be rolled
	// again.
	if err := c.poll(ctx, c.cfg.readyTimeout, "kntrace's controller configures Knative Serving", func(ctx context.Context) (string, error) {
		obs, err := c.Client.CoreV1().ConfigMaps(ServingNamespace).Get(ctx, configmaps.ObservabilityConfigName, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if p := obs.Data[configmaps.ProtocolKey]; p == "" || p == "none" || obs.Data[configmaps.EndpointKey] == "" {
			return fmt.Sprintf("%s: %s=%q %s=%q", configmaps.ObservabilityConfigName, configmaps.ProtocolKey, p,
				configmaps.EndpointKey, obs.Data[configmaps.EndpointKey]), nil
		}
		features, err := c.Client.CoreV1().ConfigMaps(ServingNamespace).Get(ctx, "config-features", metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if v := features.Data[webhook.MountPodInfoKey]; v != "allowed" {
			return fmt.Sprintf("config-features: %s=%q", webhook.MountPodInfoKey, v), nil
		}
		return "", nil
	}); err != nil {
		return err
	}
	// With failurePolicy Ignore, a Service created before the webhook
	// serves is silently not traced: wait for its certificate.
	return c.poll(ctx, c.cfg.readyTimeout, "kntrace's webhook configuration has its CA", func(ctx context.Context) (string, error) {
		w, err := c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "kntrace.webhook.kntrace.dev", metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		for _, h := range w.Webhooks {
			if len(h.ClientConfig.CABundle) == 0 {
				return "webhook " + h.Name + " has no caBundle yet", nil
			}
		}
		return "", nil
	})
}

// configDeployments lists the Deployments config/ installs, as
// NAMESPACE/NAME.
func (c *Cluster) configDeployments() ([]string, error) {
	var out []string
	err := filepath.WalkDir(filepath.Join(c.cfg.moduleDir, "config"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" {
			return err
		}
		objs, err := manifests.ReadFile(p)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.GetKind() == "Deployment" {
				out = append(out, o.GetNamespace()+"/"+o.GetName())
			}
		}
		return nil
	})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("config/ in %s has no Deployment", c.cfg.moduleDir)
	}
	return out, err
}

// pushBackendImages builds the Collector and Jaeger images under the names
// and tags config/ gives them.
func (c *Cluster) pushBackendImages(ctx context.Context) error {
	tags, err := c.backendTags()
	if err != nil {
		return err
	}
	for _, b := range backendImages {
		tag, ok := tags[b.repo]
		if !ok {
			return fmt.Errorf("config/ names no %s image: update the cluster's backendImages", b.repo)
		}
		v, err := b.version(c.cfg.moduleDir)
		if err != nil {
			return err
		}
		if tag != v {
			return fmt.Errorf("config/ names %s:%s but the %s of hack/tools.sh is %s: name the version the tests run", b.repo, tag, b.tool, v)
		}
		bin, err := binaries.Path(b.tool)
		if err != nil {
			return err
		}
		if bin, err = staticBinary(bin); err != nil {
			return err
		}
		if _, err := c.Registry.BuildImage(ctx, b.repo, tag, ImageSpec{
			Base:       strings.TrimPrefix(c.BaseImage, c.Registry.Host+"/"),
			Files:      []File{{Path: b.path, Mode: 0o755, Source: bin}},
			Entrypoint: []string{b.path},
			Env:        b.env,
			User:       "10001",
		}); err != nil {
			return fmt.Errorf("%s:%s image: %w", b.repo, tag, err)
		}
	}
	return nil
}

// backendTags maps the repositories of the Collector and Jaeger images
// config/ names to their tags.
func (c *Cluster) backendTags() (map[string]string, error) {
	tags := map[string]string{}
	for _, f := range []string{"config/600-otel-collector.yaml", "config/700-jaeger.yaml"} {
		objs, err := manifests.ReadFile(filepath.Join(c.cfg.moduleDir, f))
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			for _, img := range podImages(o.Object) {
				repo, tag := splitRef(img)
				tags[repo] = tag
			}
		}
	}
	return tags, nil
}

// podImages returns the images of a workload's containers.
func podImages(obj map[string]any) []string {
	list, _, _ := unstructured.NestedSlice(obj, "spec", "template", "spec", "containers")
	var images []string
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			if img, ok := m["image"].(string); ok {
				images = append(images, img)
			}
		}
	}
	return images
}

// Kubectl runs the kubectl v1.35 hack/tools.sh built against the cluster
// and returns its standard output.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	kubectl, err := binaries.Kubectl()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kubectl, args...)
	cmd.Dir = c.cfg.moduleDir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

// kntracePackages lists the ko:// import paths of config/, its overlays
// and the samples.
func (c *Cluster) kntracePackages() ([]string, error) {
	seen := map[string]bool{}
	for _, dir := range []string{"config", "samples"} {
		err := filepath.WalkDir(filepath.Join(c.cfg.moduleDir, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if ext := filepath.Ext(p); ext != ".yaml" && ext != ".patch" {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range koRefPattern.FindAllSubmatch(b, -1) {
				seen[string(m[1])] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	pkgs := make([]string, 0, len(seen))
	for p := range seen {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	return pkgs, nil
}

// warmKntrace compiles the packages of kntrace's images as ko does
// (CGO_ENABLED=0, -trimpath), so that `ko apply` in a test only links.
func (c *Cluster) warmKntrace(ctx context.Context) error {
	pkgs, err := c.kntracePackages()
	if err != nil {
		return err
	}
	return c.withToolsLock(ctx, func() error {
		start := time.Now()
		defer c.heartbeat("still compiling kntrace's images")()
		args := append([]string{"-n", "10", "go", "build", "-mod=readonly", "-trimpath"}, pkgs...)
		cmd := exec.CommandContext(ctx, "nice", args...)
		cmd.Dir = c.cfg.moduleDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
		}
		c.cfg.logf("kntrace's images compiled in %s (%s)", time.Since(start).Round(time.Second), strings.Join(pkgs, " "))
		return nil
	})
}
