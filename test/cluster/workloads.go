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
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kntrace/kntrace/test/binaries"
)

// Import paths of the cluster's own small programs.
const (
	pauseProgram = "github.com/kntrace/kntrace/test/cmd/kntrace-pause"
	// ProbeProgram is a trivial HTTP server (and, with arguments, an HTTP
	// and DNS client) for tests of the cluster itself.
	ProbeProgram = "github.com/kntrace/kntrace/test/cmd/kntrace-probe"
)

// nodeImages starts the registry and makes the images the node needs
// before any pod: the base image, the pause image and CoreDNS's.
func (c *Cluster) nodeImages(ctx context.Context) (pause, coredns string, err error) {
	crane, err := binaries.Path(binaries.Crane)
	if err != nil {
		return "", "", err
	}
	if c.Registry, err = startRegistry(crane, filepath.Join(c.cfg.cacheDir, "registry"), c.Dir); err != nil {
		return "", "", err
	}
	files, err := baseImageFiles()
	if err != nil {
		return "", "", err
	}
	if c.BaseImage, err = c.Registry.BuildImage(ctx, "kntrace/base", "latest", ImageSpec{
		Files: files, User: strconv.Itoa(NonRootUID), WorkingDir: "/",
		Env: []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
	}); err != nil {
		return "", "", fmt.Errorf("base image: %w", err)
	}
	pauseBin, err := c.GoBinary(ctx, pauseProgram)
	if err != nil {
		return "", "", err
	}
	if pause, err = c.Registry.BuildImage(ctx, "kntrace/pause", "latest", ImageSpec{
		Files:      []File{{Path: "/pause", Mode: 0o755, Source: pauseBin}},
		Entrypoint: []string{"/pause"},
		User:       "65535",
	}); err != nil {
		return "", "", fmt.Errorf("pause image: %w", err)
	}
	if coredns, err = c.BinaryImage(ctx, "kntrace/coredns", binaries.CoreDNS); err != nil {
		return "", "", fmt.Errorf("CoreDNS image: %w", err)
	}
	return pause, coredns, nil
}

// BinaryImage pushes an image of a tool hack/tools.sh built (a static
// binary, e.g. binaries.CoreDNS) on the base image, as repo, with the
// binary as its entrypoint; it returns the reference by digest.
func (c *Cluster) BinaryImage(ctx context.Context, repo, tool string) (string, error) {
	p, err := binaries.Path(tool)
	if err != nil {
		return "", err
	}
	if p, err = staticBinary(p); err != nil {
		return "", err
	}
	return c.Registry.BuildImage(ctx, repo, "latest", ImageSpec{
		Base:       strings.TrimPrefix(c.BaseImage, c.Registry.Host+"/"),
		Files:      []File{{Path: "/usr/local/bin/" + tool, Mode: 0o755, Source: p}},
		Entrypoint: []string{"/usr/local/bin/" + tool},
	})
}

// GoImage builds a main package of the kntrace module (as ko would:
// CGO_ENABLED=0, -trimpath) and pushes it on the base image as
// kntrace/<name>; it returns the reference by digest.
func (c *Cluster) GoImage(ctx context.Context, importPath string) (string, error) {
	bin, err := c.GoBinary(ctx, importPath)
	if err != nil {
		return "", err
	}
	name := path.Base(importPath)
	return c.Registry.BuildImage(ctx, "kntrace/"+name, "latest", ImageSpec{
		Base:       strings.TrimPrefix(c.BaseImage, c.Registry.Host+"/"),
		Files:      []File{{Path: "/ko-app/" + name, Mode: 0o755, Source: bin}},
		Entrypoint: []string{"/ko-app/" + name},
	})
}

// GoBinary builds a main package of the kntrace module into the cache (as
// ko builds: CGO_ENABLED=0, -trimpath, no network) and returns its path;
// the Go build cache makes a second build a no-op.
func (c *Cluster) GoBinary(ctx context.Context, importPath string) (string, error) {
	out := filepath.Join(c.cfg.cacheDir, "bin", path.Base(importPath))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	args := []string{"go", "build", "-mod=readonly", "-trimpath", "-ldflags=-s -w", "-o", out, importPath}
	if _, err := exec.LookPath("nice"); err == nil {
		args = append([]string{"nice", "-n", "10"}, args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = c.cfg.moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly -buildvcs=false", "GOPROXY=off", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s (in %s): %v\n%s", importPath, c.cfg.moduleDir, err, stderr.String())
	}
	return out, nil
}

// WaitDeploymentReady waits until the Deployment has all its replicas
// updated and available; the timeout error describes its pods.
func (c *Cluster) WaitDeploymentReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	var selector string
	err := c.poll(ctx, timeout, "Deployment "+ns+"/"+name+" available", func(ctx context.Context) (string, error) {
		d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if d.Spec.Selector != nil {
			selector = labels.Set(d.Spec.Selector.MatchLabels).String()
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.AvailableReplicas == want && d.Status.Replicas == want {
			return "", nil
		}
		return fmt.Sprintf("%d/%d available, %d updated", d.Status.AvailableReplicas, want, d.Status.UpdatedReplicas), nil
	})
	if err != nil && selector != "" {
		return fmt.Errorf("%w\n%s", err, c.DescribePods(ctx, ns, selector))
	}
	return err
}

// WaitPodReady waits until the pod is Ready; the timeout error describes it.
func (c *Cluster) WaitPodReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	err := c.poll(ctx, timeout, "pod "+ns+"/"+name+" Ready", func(ctx context.Context) (string, error) {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			return "", fmt.Errorf("pod %s/%s ended (%s) before it was Ready:\n%s", ns, name, p.Status.Phase, describePod(p))
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return "", nil
			}
		}
		return describePod(p), nil
	})
	return err
}

// WaitPodDone waits until the pod has ended and returns its phase.
func (c *Cluster) WaitPodDone(ctx context.Context, ns, name string, timeout time.Duration) (corev1.PodPhase, error) {
	var phase corev1.PodPhase
	err := c.poll(ctx, timeout, "pod "+ns+"/"+name+" ended", func(ctx context.Context) (string, error) {
		p, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		phase = p.Status.Phase
		if phase == corev1.PodFailed || phase == corev1.PodSucceeded {
			return "", nil
		}
		return describePod(p), nil
	})
	return phase, err
}

// PodLog returns a container's log through the API server and the kubelet.
func (c *Cluster) PodLog(ctx context.Context, ns, pod, container string) (string, error) {
	b, err := c.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("log of pod %s/%s: %w", ns, pod, err)
	}
	return string(b), nil
}

// DescribePods summarises the pods matching selector and their recent
// events, for failure messages.
func (c *Cluster) DescribePods(ctx context.Context, ns, selector string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "pods: " + err.Error()
	}
	if len(pods.Items) == 0 {
		return fmt.Sprintf("no pods in %s match %s", ns, selector)
	}
	var b strings.Builder
	for i := range pods.Items {
		p := &pods.Items[i]
		b.WriteString(describePod(p))
		b.WriteString("\n")
		evs, err := c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + p.Name})
		if err == nil {
			sort.Slice(evs.Items, func(i, j int) bool { return evs.Items[i].LastTimestamp.Before(&evs.Items[j].LastTimestamp) })
			for _, e := range evs.Items {
				fmt.Fprintf(&b, "  event %s %s: %s\n", e.Type, e.Reason, e.Message)
			}
		}
	}
	return b.String()
}

func describePod(p *corev1.Pod) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s/%s: %s", p.Namespace, p.Name, p.Status.Phase)
	if p.Spec.NodeName == "" {
		b.WriteString(", not scheduled")
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "; %s ready=%v restarts=%d", cs.Name, cs.Ready, cs.RestartCount)
		switch {
		case cs.State.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s: %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			fmt.Fprintf(&b, " terminated %s (exit %d): %s", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode, cs.State.Terminated.Message)
		case cs.State.Running != nil:
			b.WriteString(" running")
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Status != corev1.ConditionTrue && cond.Message != "" {
			fmt.Fprintf(&b, "; %s: %s", cond.Type, cond.Message)
		}
	}
	return b.String()
}

// staticBinary resolves the link hack/tools.sh made and checks that the
// binary needs no dynamic loader: the images have no libc.
func staticBinary(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if err := binaries.RequireStatic(p); err != nil {
		return "", fmt.Errorf("%w (an image has no libc; hack/tools.sh builds its tools so)", err)
	}
	return p, nil
}
