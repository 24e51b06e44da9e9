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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
)

// knative reports the version, the shape and every configuration hazard.
func (d *doctor) knative(ctx context.Context) {
	d.installed, d.statuses = map[string]bool{}, map[string]*configmaps.Status{}
	var opts []configmaps.ClientOption
	if shape, _ := configmaps.ParseShape(d.opts.Shape); shape != "" {
		opts = append(opts, configmaps.WithShape(shape))
	}
	c := configmaps.NewClient(d.kube, opts...)
	for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
		name := "knative/" + ns
		if _, err := d.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			d.report.add(name, StatusWarn, "", "not installed (no namespace %s): skipped", ns)
			continue
		} else if err != nil {
			d.report.add(name, StatusFail, "check --kubeconfig/--context and that you may read namespaces", "cannot read namespace %s: %v", ns, err)
			continue
		}
		d.installed[ns] = true
		st, err := c.Show(ctx, ns)
		if err != nil {
			d.report.add(name, StatusFail, "pass the right cluster; --shape observability|legacy forces a shape", "%v", err)
			continue
		}
		d.statuses[ns] = st
		version := st.KnativeVersion
		if version == "" {
			version = "version unknown"
		} else {
			version = "Knative " + version
		}
		d.report.add(name, StatusPass, "", "%s, reads %s (%s)", version, st.ConfigMap, st.Reason)
		cfgName := "config/" + ns + "/" + st.ConfigMap
		for _, p := range st.Problems {
			status := StatusWarn
			if p.Severity == configmaps.SeverityError {
				status = StatusFail
			}
			msg := p.Message
			if p.Key != "" {
				msg = fmt.Sprintf("%s %q %s", p.Key, p.Value, p.Message)
			}
			d.report.add(cfgName, status, p.Fix, "%s", msg)
		}
		if len(configmaps.Errors(st.Problems)) > 0 {
			continue
		}
		switch {
		case st.Observability != nil && (st.Observability.Protocol == configmaps.ProtocolGRPC || st.Observability.Protocol == configmaps.ProtocolHTTPProtobuf):
			d.report.add(cfgName, StatusPass, "", "exports %s to %s, sampling rate %g", st.Observability.Protocol, st.Observability.Endpoint, st.Observability.SamplingRate)
		case st.Legacy != nil && st.Legacy.Backend == configmaps.BackendZipkin:
			d.report.add(cfgName, StatusPass, "", "exports zipkin to %s, sample rate %g", st.Legacy.ZipkinEndpoint, st.Legacy.SampleRate)
		default:
			d.report.add(cfgName, StatusWarn, "kn trace config set --protocol grpc --endpoint http://otel-collector."+conventions.SystemNamespace+":4317 --sampling-rate 0.1",
				"tracing is off: %s exports nothing", ns)
		}
	}
	if len(d.installed) == 0 {
		d.report.add("knative", StatusFail, "install Knative Serving or Eventing, or point --kubeconfig/--context at the cluster that runs it",
			"neither %s nor %s exists", configmaps.ServingNamespace, configmaps.EventingNamespace)
	}
}

// samplerEnv: OTEL_TRACES_SAMPLER_ARG alone takes part only in knative.dev/pkg's
// ">= 1" test; the ratio still comes from the ConfigMap.
func (d *doctor) samplerEnv(ctx context.Context) {
	const name = "env/OTEL_TRACES_SAMPLER"
	checked := 0
	found := false
	for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
		if !d.installed[ns] {
			continue
		}
		deps, err := d.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			d.report.add(name, StatusFail, "you need list access to deployments in "+ns, "cannot list deployments in %s: %v", ns, err)
			continue
		}
		for _, dep := range deps.Items {
			checked++
			for _, c := range slices.Concat(dep.Spec.Template.Spec.InitContainers, dep.Spec.Template.Spec.Containers) {
				arg, hasArg := envValue(c.Env, "OTEL_TRACES_SAMPLER_ARG")
				if _, hasSampler := envValue(c.Env, "OTEL_TRACES_SAMPLER"); !hasArg || hasSampler {
					continue
				}
				found = true
				d.report.add(name, StatusFail,
					fmt.Sprintf("kubectl -n %s set env deployment/%s -c %s OTEL_TRACES_SAMPLER=parentbased_traceidratio (or remove OTEL_TRACES_SAMPLER_ARG)", ns, dep.Name, c.Name),
					"deployment %s/%s container %s sets OTEL_TRACES_SAMPLER_ARG=%q without OTEL_TRACES_SAMPLER: Knative then uses the ARG only to test for >= 1 and still samples at config-observability's rate, without honouring the parent's decision",
					ns, dep.Name, c.Name, arg)
			}
		}
	}
	if !found && checked > 0 {
		d.report.add(name, StatusPass, "", "no Knative Deployment sets OTEL_TRACES_SAMPLER_ARG without OTEL_TRACES_SAMPLER (%d checked)", checked)
	}
}

func envValue(env []corev1.EnvVar, name string) (string, bool) {
	for _, e := range env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}
