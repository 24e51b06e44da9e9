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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
)

func templateHasEnv(s *servingv1.Service, name string) bool {
	for _, c := range s.Spec.Template.Spec.Containers {
		if _, ok := envValue(c.Env, name); ok {
			return true
		}
	}
	return false
}

// services: Services asking for injection whose template lacks the env.
func (d *doctor) services(ctx context.Context) {
	const name = "services"
	if !d.installed[configmaps.ServingNamespace] {
		return
	}
	list, err := d.serving.ServingV1().Services(d.opts.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		d.report.add(name, StatusWarn, "", "cannot list Knative Services: %v", err)
		return
	}
	enabledNS := map[string]bool{}
	if nss, err := d.kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: conventions.NamespaceLabel + "=" + conventions.NamespaceEnabled}); err == nil {
		for _, n := range nss.Items {
			enabledNS[n.Name] = true
		}
	}
	asking, missing := 0, 0
	for i := range list.Items {
		s := &list.Items[i]
		for _, c := range s.Spec.Template.Spec.Containers {
			arg, hasArg := envValue(c.Env, conventions.EnvSamplerArg)
			if _, hasSampler := envValue(c.Env, conventions.EnvSampler); hasArg && !hasSampler {
				d.report.add(name, StatusWarn, fmt.Sprintf("add %s=%s to container %q of Service %s/%s, or remove %s", conventions.EnvSampler, conventions.Sampler, c.Name, s.Namespace, s.Name, conventions.EnvSamplerArg),
					"Service %s/%s container %q sets %s=%q without %s: OpenTelemetry SDKs ignore the argument and keep their default sampler",
					s.Namespace, s.Name, c.Name, conventions.EnvSamplerArg, arg, conventions.EnvSampler)
			}
		}
		// The webhook's own rule: the annotation on the Service or its
		// template (where kn trace enable writes it), or the namespace label.
		var nsLabels map[string]string
		if enabledNS[s.Namespace] {
			nsLabels = map[string]string{conventions.NamespaceLabel: conventions.NamespaceEnabled}
		}
		settings, ferr := revisions.Resolve(revisions.ServiceTarget(s), revisions.WithNamespaceLabels(nsLabels))
		if ferr != nil {
			d.report.add(name, StatusFail, "fix the annotation: "+ferr.Error(), "Service %s/%s: %v", s.Namespace, s.Name, ferr)
			continue
		}
		if !settings.Inject {
			continue
		}
		asking++
		if templateHasEnv(s, conventions.EnvEndpoint) {
			continue
		}
		missing++
		d.report.add(name, StatusFail,
			fmt.Sprintf("with the webhook running, apply the Service again: kubectl -n %s annotate ksvc %s %s=true --overwrite (or kn service update %s -n %s)", s.Namespace, s.Name, conventions.InjectAnnotation, s.Name, s.Namespace),
			"Service %s/%s asks for injection but its template has no %s: the webhook was not running when it was applied", s.Namespace, s.Name, conventions.EnvEndpoint)
	}
	if missing == 0 {
		scope := "all namespaces"
		if d.opts.Namespace != "" {
			scope = "namespace " + d.opts.Namespace
		}
		d.report.add(name, StatusPass, "", "%d Services in %s ask for injection, all injected", asking, scope)
	}
}

// podInfo: config-features queueproxy.mount-podinfo.
func (d *doctor) podInfo(ctx context.Context) {
	const name, key = "podinfo", "queueproxy.mount-podinfo"
	ns := configmaps.ServingNamespace
	if !d.installed[ns] {
		return
	}
	cm, err := d.kube.CoreV1().ConfigMaps(ns).Get(ctx, "config-features", metav1.GetOptions{})
	if err != nil {
		d.report.add(name, StatusWarn, "", "cannot read %s/config-features: %v", ns, err)
		return
	}
	fix := fmt.Sprintf(`kubectl -n %s patch configmap config-features --type merge -p '{"data":{"%s":"enabled"}}'`, ns, key)
	switch v := cm.Data[key]; v {
	case "enabled":
		d.report.add(name, StatusPass, "", "%s is enabled: kntrace's queue-proxy reads the pod's annotations from /etc/podinfo", key)
	case "allowed":
		d.report.add(name, StatusPass, "", "%s is allowed: kntrace's webhook annotates templates %s=enabled, so kntrace's queue-proxy gets /etc/podinfo", key, conventions.PodInfoAnnotation)
	default:
		d.report.add(name, StatusWarn, fix, "%s is %q: the queue-proxy gets no /etc/podinfo, so kntrace's queue-proxy cannot see a Service's kntrace.dev/* annotations", key, orDefault(v, "disabled"))
	}
}
