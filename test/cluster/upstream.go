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
	"path/filepath"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kntrace/kntrace/settings"
	"github.com/kntrace/kntrace/test/manifests"
	"github.com/kntrace/kntrace/webhook"
)

// UseUpstreamDataPlane puts Knative's own activator and queue-proxy back
// in place of kntrace's, as a user who removes the two overlays would: the
// activator Deployment gets the release's image again and loses what
// activator.patch added (its environment variables and its label),
// config-deployment gets the release's queue-sidecar-image, and
// config-kntrace's kntrace-queue-proxy is "false". kntrace's webhook,
// controller, Collector and Jaeger stay. Revisions created afterwards run
// Knative's queue-proxy; those created before keep kntrace's. It returns
// once the activator Deployment is available and none of kntrace's
// activator pods is left.
func (c *Cluster) UseUpstreamDataPlane(ctx context.Context) error {
	return c.step("Knative's activator and queue-proxy (overlays removed)", func() error { return c.useUpstreamDataPlane(ctx) })
}

func (c *Cluster) useUpstreamDataPlane(ctx context.Context) error {
	activatorImage, queueImage, err := c.upstreamDataPlaneImages(ctx)
	if err != nil {
		return err
	}
	env, labels, err := c.activatorOverlayAdditions()
	if err != nil {
		return err
	}
	if _, err := c.Kubectl(ctx, "-n", KntraceNamespace, "patch", "configmap", settings.ConfigName, "--type=merge",
		"--patch", fmt.Sprintf(`{"data":{%q:"false"}}`, settings.KntraceQueueProxyKey)); err != nil {
		return err
	}
	if _, err := c.Client.CoreV1().ConfigMaps(ServingNamespace).Patch(ctx, webhook.DeploymentConfigName, types.MergePatchType,
		fmt.Appendf(nil, `{"data":{%q:%q}}`, webhook.QueueSidecarImageKey, queueImage), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("config-deployment: %w", err)
	}
	d, err := c.Client.AppsV1().Deployments(ServingNamespace).Get(ctx, "activator", metav1.GetOptions{})
	if err != nil {
		return err
	}
	for k := range labels {
		delete(d.Spec.Template.Labels, k)
	}
	found := false
	for i := range d.Spec.Template.Spec.Containers {
		ctr := &d.Spec.Template.Spec.Containers[i]
		if ctr.Name != "activator" {
			continue
		}
		found = true
		ctr.Image = activatorImage
		ctr.Env = slices.DeleteFunc(ctr.Env, func(e corev1.EnvVar) bool { return slices.Contains(env, e.Name) })
	}
	if !found {
		return fmt.Errorf("Deployment %s/activator has no container \"activator\"", ServingNamespace)
	}
	if _, err := c.Client.AppsV1().Deployments(ServingNamespace).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("Deployment %s/activator: %w", ServingNamespace, err)
	}
	start := time.Now()
	if err := c.WaitDeploymentReady(ctx, ServingNamespace, "activator", c.cfg.readyTimeout); err != nil {
		return err
	}
	// kntrace's activator drains for about 30 s after SIGTERM, as
	// Knative's does; until it is gone both share the traffic.
	if err := c.WaitNoPods(ctx, ServingNamespace, "app=activator,kntrace.dev/activator=kntrace", c.cfg.readyTimeout); err != nil {
		return err
	}
	c.cfg.logf("Knative's activator back, kntrace's gone %s after the update", time.Since(start).Round(time.Millisecond))
	return nil
}

// upstreamDataPlaneImages returns the activator's and the queue-proxy's
// images as Knative Serving's release was built for this cluster.
func (c *Cluster) upstreamDataPlaneImages(ctx context.Context) (activator, queue string, err error) {
	yaml, err := c.resolveRelease(ctx, servingRelease)
	if err != nil {
		return "", "", err
	}
	objs, err := manifests.Decode([]byte(yaml))
	if err != nil {
		return "", "", err
	}
	for _, o := range objs {
		switch {
		case o.GetKind() == "Deployment" && o.GetName() == "activator":
			for _, img := range podImages(o.Object) {
				activator = img
			}
		case o.GetKind() == "ConfigMap" && o.GetName() == webhook.DeploymentConfigName:
			queue, _, _ = unstructured.NestedString(o.Object, "data", webhook.QueueSidecarImageKey)
		}
	}
	if activator == "" || queue == "" {
		return "", "", fmt.Errorf("Knative Serving's release: activator image %q, %s %s %q: want both", activator,
			webhook.DeploymentConfigName, webhook.QueueSidecarImageKey, queue)
	}
	return activator, queue, nil
}

// activatorOverlayAdditions reads what activator.patch adds to Knative's
// activator: its container's environment variables and its pods' labels.
func (c *Cluster) activatorOverlayAdditions() (env []string, labels map[string]string, err error) {
	objs, err := manifests.ReadFile(filepath.Join(c.cfg.moduleDir, kntraceOverlays[0].patch))
	if err != nil {
		return nil, nil, err
	}
	if len(objs) != 1 {
		return nil, nil, fmt.Errorf("%s: %d objects, want the activator Deployment's patch", kntraceOverlays[0].patch, len(objs))
	}
	var d struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[0].Object, &d); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kntraceOverlays[0].patch, err)
	}
	for _, ctr := range d.Spec.Template.Spec.Containers {
		for _, e := range ctr.Env {
			env = append(env, e.Name)
		}
	}
	return env, d.Spec.Template.Labels, nil
}
