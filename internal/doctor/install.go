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

package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
)

// webhook: installed, its Deployment ready, and answering a dry-run create.
func (d *doctor) webhook(ctx context.Context) {
	install := "install kntrace: ko apply -Rf config/"
	mwc, err := d.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, conventions.WebhookConfigurationName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		d.report.add("webhook/installed", StatusFail, install, "MutatingWebhookConfiguration %s not found: Services annotated %s are not injected", conventions.WebhookConfigurationName, conventions.InjectAnnotation)
		return
	}
	if err != nil {
		d.report.add("webhook/installed", StatusFail, "you need read access to mutatingwebhookconfigurations", "%v", err)
		return
	}
	for _, w := range mwc.Webhooks {
		if w.ClientConfig.URL != nil {
			d.webhookURL = true
		}
	}
	d.report.add("webhook/installed", StatusPass, "", "MutatingWebhookConfiguration %s (%d webhooks)", conventions.WebhookConfigurationName, len(mwc.Webhooks))

	dep, err := d.kube.AppsV1().Deployments(conventions.SystemNamespace).Get(ctx, conventions.WebhookDeployment, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && d.webhookURL:
		d.report.add("webhook/deployment", StatusWarn, "", "no Deployment %s/%s: the webhook configuration calls a URL, so it runs elsewhere", conventions.SystemNamespace, conventions.WebhookDeployment)
	case apierrors.IsNotFound(err):
		d.report.add("webhook/deployment", StatusFail, install, "Deployment %s/%s not found", conventions.SystemNamespace, conventions.WebhookDeployment)
	case err != nil:
		d.report.add("webhook/deployment", StatusFail, "you need read access to deployments in "+conventions.SystemNamespace, "%v", err)
	case dep.Status.ReadyReplicas < 1:
		d.report.add("webhook/deployment", StatusFail,
			fmt.Sprintf("kubectl -n %s describe deployment %s; kubectl -n %s logs deployment/%s", conventions.SystemNamespace, conventions.WebhookDeployment, conventions.SystemNamespace, conventions.WebhookDeployment),
			"Deployment %s/%s has no ready replica (%d of %d)", conventions.SystemNamespace, conventions.WebhookDeployment, dep.Status.ReadyReplicas, replicas(dep))
	default:
		d.report.add("webhook/deployment", StatusPass, "", "Deployment %s/%s: %d of %d replicas ready", conventions.SystemNamespace, conventions.WebhookDeployment, dep.Status.ReadyReplicas, replicas(dep))
	}

	if !d.installed[configmaps.ServingNamespace] {
		return
	}
	ns := d.opts.Namespace
	if ns == "" {
		ns = "default"
	}
	probe := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: probeService, Namespace: ns, Annotations: map[string]string{conventions.InjectAnnotation: "true"}},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "kntrace.dev/doctor-probe:dry-run"}}}},
		}}},
	}
	got, err := d.serving.ServingV1().Services(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	switch {
	case err != nil && (strings.Contains(err.Error(), "webhook") || strings.Contains(err.Error(), conventions.WebhookConfigurationName)):
		d.report.add("webhook/answering", StatusFail, "the webhook's pod must run and its Service/URL and caBundle must be right: kubectl -n "+conventions.SystemNamespace+" logs deployment/"+conventions.WebhookDeployment,
			"a dry-run Service in %s was not admitted: %v", ns, err)
	case err != nil:
		d.report.add("webhook/answering", StatusWarn, "", "could not dry-run a Service in %s to probe the webhook: %v", ns, err)
	case !templateHasEnv(got, conventions.EnvEndpoint):
		d.report.add("webhook/answering", StatusFail,
			"check the webhook's logs, its namespaceSelector/objectSelector, and failurePolicy (Ignore hides a webhook that does not answer)",
			"a dry-run Service in %s annotated %s=true came back without %s: the webhook did not inject", ns, conventions.InjectAnnotation, conventions.EnvEndpoint)
	default:
		d.report.add("webhook/answering", StatusPass, "", "a dry-run Service in %s came back with %s injected", ns, conventions.EnvEndpoint)
	}
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// dataPlane: kntrace's queue-proxy (config-deployment) and activator.
func (d *doctor) dataPlane(ctx context.Context) {
	ns := configmaps.ServingNamespace
	if !d.installed[ns] {
		return
	}
	cm, err := d.kube.CoreV1().ConfigMaps(ns).Get(ctx, "config-deployment", metav1.GetOptions{})
	switch {
	case err != nil:
		d.report.add("queue-proxy", StatusWarn, "", "cannot read %s/config-deployment: %v", ns, err)
	case strings.Contains(cm.Data["queue-sidecar-image"], "kntrace"):
		d.report.add("queue-proxy", StatusPass, "", "kntrace's queue-proxy: %s", cm.Data["queue-sidecar-image"])
	default:
		d.report.add("queue-proxy", StatusWarn,
			"set queue-sidecar-image in "+ns+"/config-deployment to kntrace's cmd/queue image (ko apply -Rf config/ does it)",
			"upstream queue-proxy (%s): no cold-start phases, no OTLP relay for apps, spans lost at scale to zero", orDefault(cm.Data["queue-sidecar-image"], "Knative's default"))
	}
	dep, err := d.kube.AppsV1().Deployments(ns).Get(ctx, "activator", metav1.GetOptions{})
	if err != nil {
		d.report.add("activator", StatusWarn, "", "cannot read %s/activator: %v", ns, err)
		return
	}
	var images []string
	for _, c := range dep.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	if slices.ContainsFunc(images, func(s string) bool { return strings.Contains(s, "kntrace") }) {
		d.report.add("activator", StatusPass, "", "kntrace's activator: %s", strings.Join(images, ", "))
		return
	}
	d.report.add("activator", StatusWarn, "deploy kntrace's cmd/activator image in "+ns+"/activator (opt-in, see config/)",
		"upstream activator (%s): the wait for a scale from zero is not marked faas.coldstart nor split into phases", strings.Join(images, ", "))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
