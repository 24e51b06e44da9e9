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

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

// Shape is which collector install runs in kntrace-system.
type Shape string

const (
	// ShapeSingle is config/'s one collector Deployment.
	ShapeSingle Shape = "single collector"
	// ShapeScaleOut is scale-out/'s agents and gateways.
	ShapeScaleOut Shape = "scale-out"
	// ShapeBoth is both at once: config/ applied over the scale-out install.
	ShapeBoth Shape = "both"
	// ShapeNone is no collector of kntrace's: Knative exports elsewhere.
	ShapeNone Shape = "none"
)

const scaleOutDoc = "docs/install.md, \"Scale-out\""

// pod is where a collector tier's pods come from: the template and how
// many of them are ready.
type pod struct {
	kind           string
	spec           corev1.PodSpec
	claims         []string // volumeClaimTemplates
	ready, desired int32
}

// pipeline reports which collector install runs and checks the scale-out
// one: the agents, the gateways the agents resolve, the cold-start policy,
// the queues' storage, the sampling mode and Jaeger's store.
func (d *doctor) pipeline(ctx context.Context) {
	ns := conventions.SystemNamespace
	_, err := d.kube.AppsV1().Deployments(ns).Get(ctx, conventions.CollectorName, metav1.GetOptions{})
	single := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		d.report.add("pipeline/shape", StatusWarn, "you need read access to deployments and daemonsets in "+ns, "%v", err)
		return
	}
	agents, agentErr := d.agentPods(ctx)
	gateways, gatewayErr := d.gatewayPods(ctx)
	scaleOut := agents != nil || gateways != nil
	shape := ShapeNone
	switch {
	case single && scaleOut:
		shape = ShapeBoth
	case single:
		shape = ShapeSingle
	case scaleOut:
		shape = ShapeScaleOut
	}
	cfg := d.kntraceConfig(ctx)
	switch shape {
	case ShapeNone:
		d.report.add("pipeline/shape", StatusPass, "", "no collector of kntrace's in %s: Knative and applications export where config-kntrace and config-observability say", ns)
		return
	case ShapeSingle:
		d.report.add("pipeline/shape", StatusPass, "", "single collector (Deployment %s/%s): one replica, in-memory queue; for agents, tail-sampling gateways and persistent queues see %s",
			ns, conventions.CollectorName, scaleOutDoc)
		if cfg != nil && cfg.SamplingMode == settings.SamplingModeTail {
			d.report.add("pipeline/sampling-mode", StatusWarn, "kn trace config set --sampling-mode head --sampling-rate 0.1, or install the scale-out gateways ("+scaleOutDoc+")",
				"config-kntrace sampling-mode is tail but no gateway tail-samples: every trace is exported and stored")
		}
		return
	case ShapeBoth:
		d.report.add("pipeline/shape", StatusFail,
			fmt.Sprintf("kubectl -n %s delete deployment %s configmap %s-config; install with kubectl kustomize scale-out, never ko apply -Rf config/ on top", ns, conventions.CollectorName, conventions.CollectorName),
			"both installs run: the single collector (Deployment %s) beside the scale-out agents and gateways; `ko apply -Rf config/` over the scale-out install brings it back and points the %s Service at it",
			conventions.CollectorName, conventions.CollectorName)
	case ShapeScaleOut:
		d.report.add("pipeline/shape", StatusPass, "", "scale-out: agents (%s) and gateways (%s)", describe(agents), describe(gateways))
	}
	d.agents(ctx, agents, agentErr)
	d.gateways(ctx, gateways, gatewayErr)
	if gateways != nil {
		d.coldStartPolicy(ctx)
	}
	d.queueStorage(ctx, agents, gateways)
	if cfg != nil && cfg.SamplingMode != settings.SamplingModeTail && cfg.SamplingRate < 1 {
		d.report.add("pipeline/sampling-mode", StatusWarn, "kn trace config set --sampling-mode tail",
			"config-kntrace samples at the head (sampling-mode %s, rate %g): the gateways only see that share, so most cold starts never reach them", cfg.SamplingMode, cfg.SamplingRate)
	} else if cfg != nil {
		d.report.add("pipeline/sampling-mode", StatusPass, "", "sampling-mode %s: every trace reaches the gateways, which decide", cfg.SamplingMode)
	}
	d.jaegerStorage(ctx)
}

func describe(p *pod) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%s, %d of %d ready", p.kind, p.ready, p.desired)
}

// kntraceConfig is config-kntrace, nil when absent or invalid (other
// checks report that).
func (d *doctor) kntraceConfig(ctx context.Context) *settings.Config {
	cm, err := d.kube.CoreV1().ConfigMaps(conventions.SystemNamespace).Get(ctx, settings.ConfigName, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	cfg, err := settings.NewConfigFromConfigMap(cm)
	if err != nil {
		return nil
	}
	return cfg
}

func (d *doctor) agentPods(ctx context.Context) (*pod, error) {
	ds, err := d.kube.AppsV1().DaemonSets(conventions.SystemNamespace).Get(ctx, conventions.AgentName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &pod{kind: "DaemonSet " + ds.Name, spec: ds.Spec.Template.Spec, ready: ds.Status.NumberReady, desired: ds.Status.DesiredNumberScheduled}, nil
}

// gatewayPods reads the gateways as a StatefulSet (as shipped) or a
// Deployment.
func (d *doctor) gatewayPods(ctx context.Context) (*pod, error) {
	ss, err := d.kube.AppsV1().StatefulSets(conventions.SystemNamespace).Get(ctx, conventions.GatewayName, metav1.GetOptions{})
	if err == nil {
		p := &pod{kind: "StatefulSet " + ss.Name, spec: ss.Spec.Template.Spec, ready: ss.Status.ReadyReplicas, desired: 1}
		if ss.Spec.Replicas != nil {
			p.desired = *ss.Spec.Replicas
		}
		for _, c := range ss.Spec.VolumeClaimTemplates {
			p.claims = append(p.claims, c.Name)
		}
		return p, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	dep, err := d.kube.AppsV1().Deployments(conventions.SystemNamespace).Get(ctx, conventions.GatewayName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &pod{kind: "Deployment " + dep.Name, spec: dep.Spec.Template.Spec, ready: dep.Status.ReadyReplicas, desired: replicas(dep)}, nil
}

// readyEndpoints counts the ready addresses of a Service's EndpointSlices:
// what the agents' Kubernetes resolver (for the gateways) or kube-proxy
// (for the agents) route to.
func (d *doctor) readyEndpoints(ctx context.Context, service string) (int, error) {
	slices, err := d.kube.DiscoveryV1().EndpointSlices(conventions.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + service})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				n += len(e.Addresses)
			}
		}
	}
	return n, nil
}

// agents: a ready agent on every node the DaemonSet schedules to, and the
// otel-collector Service leading to them on the caller's own node.
func (d *doctor) agents(ctx context.Context, p *pod, err error) {
	const name = "pipeline/agents"
	ns := conventions.SystemNamespace
	logs := fmt.Sprintf("kubectl -n %s describe daemonset %s; kubectl -n %s logs daemonset/%s", ns, conventions.AgentName, ns, conventions.AgentName)
	switch {
	case err != nil:
		d.report.add(name, StatusFail, "you need read access to daemonsets in "+ns, "%v", err)
		return
	case p == nil:
		d.report.add(name, StatusFail, "apply the scale-out install: kubectl kustomize scale-out | ko resolve -f - | kubectl apply -f -",
			"no DaemonSet %s/%s: the gateways have no agents in front of them", ns, conventions.AgentName)
		return
	case p.ready == 0:
		d.report.add(name, StatusFail, logs, "no agent is ready (0 of %d): no span is exported", p.desired)
		return
	case p.ready < p.desired:
		d.report.add(name, StatusWarn, logs, "%d of %d agents ready: pods on the other nodes cannot export (the Service keeps spans on their node)", p.ready, p.desired)
		return
	}
	svc, err := d.kube.CoreV1().Services(ns).Get(ctx, conventions.CollectorName, metav1.GetOptions{})
	if err != nil {
		d.report.add(name, StatusFail, "apply the scale-out install again", "%d agents ready, but Service %s/%s, which Knative and applications export to: %v", p.ready, ns, conventions.CollectorName, err)
		return
	}
	if svc.Spec.Selector["app.kubernetes.io/name"] != conventions.AgentName {
		d.report.add(name, StatusFail, "apply the scale-out install again: its patch points the Service at the agents",
			"Service %s/%s selects %v, not the agents: exports bypass them", ns, conventions.CollectorName, svc.Spec.Selector)
		return
	}
	ready, err := d.readyEndpoints(ctx, conventions.CollectorName)
	if err != nil {
		d.report.add(name, StatusWarn, "you need to list endpointslices in "+ns, "%d agents ready; cannot read the Service's endpoints: %v", p.ready, err)
		return
	}
	if ready == 0 {
		d.report.add(name, StatusFail, logs, "%d agents ready but Service %s has no ready endpoint", p.ready, conventions.CollectorName)
		return
	}
	local := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	if !local {
		d.report.add(name, StatusWarn, "set internalTrafficPolicy: Local on Service "+conventions.CollectorName+" (the scale-out install does)",
			"%d of %d agents reachable through Service %s, but not node-locally: spans cross the network before an agent holds them", ready, p.desired, conventions.CollectorName)
		return
	}
	d.report.add(name, StatusPass, "", "%d of %d agents ready and reachable through Service %s on each caller's node", ready, p.desired, conventions.CollectorName)
}

// gateways: the ready addresses the agents' resolver finds behind the
// headless Service.
func (d *doctor) gateways(ctx context.Context, p *pod, err error) {
	const name = "pipeline/gateways"
	ns := conventions.SystemNamespace
	logs := fmt.Sprintf("kubectl -n %s describe statefulset %s; kubectl -n %s logs %s-0", ns, conventions.GatewayName, ns, conventions.GatewayName)
	switch {
	case err != nil:
		d.report.add(name, StatusFail, "you need read access to statefulsets in "+ns, "%v", err)
		return
	case p == nil:
		d.report.add(name, StatusFail, "apply the scale-out install: kubectl kustomize scale-out | ko resolve -f - | kubectl apply -f -",
			"no gateways (%s/%s): the agents have nowhere to send", ns, conventions.GatewayName)
		return
	}
	svc, err := d.kube.CoreV1().Services(ns).Get(ctx, conventions.GatewayName, metav1.GetOptions{})
	if err != nil {
		d.report.add(name, StatusFail, "apply the scale-out install again", "Service %s/%s, which the agents resolve: %v", ns, conventions.GatewayName, err)
		return
	}
	resolved, err := d.readyEndpoints(ctx, conventions.GatewayName)
	if err != nil {
		d.report.add(name, StatusWarn, "you need to list endpointslices in "+ns, "cannot read what the agents resolve: %v", err)
		return
	}
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	switch {
	case resolved == 0:
		d.report.add(name, StatusFail, logs, "the agents resolve no gateway (%s): spans wait in the agents' queues", describe(p))
	case resolved < 2:
		d.report.add(name, StatusWarn, logs, "the agents resolve %d gateway (%s): no failover while it restarts", resolved, describe(p))
	case !headless:
		d.report.add(name, StatusWarn, "make Service "+conventions.GatewayName+" headless (clusterIP: None), as shipped",
			"the agents resolve %d gateways, but Service %s is not headless", resolved, conventions.GatewayName)
	default:
		d.report.add(name, StatusPass, "", "the agents resolve %d gateways behind the headless Service %s (%s)", resolved, conventions.GatewayName, describe(p))
	}
}

// collectorYAML is the parts of a collector configuration the checks read.
type collectorYAML struct {
	Processors map[string]map[string]any `json:"processors"`
	Exporters  map[string]map[string]any `json:"exporters"`
	Extensions map[string]map[string]any `json:"extensions"`
	Service    struct {
		Extensions []string `json:"extensions"`
		Pipelines  map[string]struct {
			Processors []string `json:"processors"`
			Exporters  []string `json:"exporters"`
		} `json:"pipelines"`
	} `json:"service"`
}

func (d *doctor) collectorConfig(ctx context.Context, name string) (*collectorYAML, error) {
	cm, err := d.kube.CoreV1().ConfigMaps(conventions.SystemNamespace).Get(ctx, name+"-config", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var c collectorYAML
	if err := yaml.Unmarshal([]byte(cm.Data[conventions.CollectorConfigKey]), &c); err != nil {
		return nil, fmt.Errorf("ConfigMap %s-config %s: %w", name, conventions.CollectorConfigKey, err)
	}
	return &c, nil
}

// keepsColdStarts reports whether a tail_sampling policy keeps a trace for
// faas.coldstart=true alone: a top-level policy, not one an "and" also
// conditions.
func keepsColdStarts(tailSampling map[string]any) (string, bool) {
	policies, _ := tailSampling["policies"].([]any)
	for _, p := range policies {
		pm, _ := p.(map[string]any)
		name, _ := pm["name"].(string)
		switch pm["type"] {
		case "boolean_attribute":
			ba, _ := pm["boolean_attribute"].(map[string]any)
			if ba["key"] == "faas.coldstart" && ba["value"] == true && ba["invert_match"] != true {
				return name, true
			}
		case "string_attribute":
			sa, _ := pm["string_attribute"].(map[string]any)
			values, _ := sa["values"].([]any)
			if sa["key"] == "faas.coldstart" && slices.Contains(values, any("true")) && sa["invert_match"] != true {
				return name, true
			}
		case "ottl_condition":
			oc, _ := pm["ottl_condition"].(map[string]any)
			spans, _ := oc["span"].([]any)
			for _, s := range spans {
				if str, _ := s.(string); strings.Contains(str, "faas.coldstart") && strings.Contains(str, "true") {
					return name, true
				}
			}
		}
	}
	return "", false
}

func (d *doctor) coldStartPolicy(ctx context.Context) {
	const name = "pipeline/cold-start-policy"
	fix := fmt.Sprintf("add to %s-config's tail_sampling policies: {name: cold-starts, type: boolean_attribute, boolean_attribute: {key: faas.coldstart, value: true}}", conventions.GatewayName)
	c, err := d.collectorConfig(ctx, conventions.GatewayName)
	if err != nil {
		d.report.add(name, StatusFail, "apply the scale-out install again", "cannot read the gateways' configuration: %v", err)
		return
	}
	var tail string
	for _, p := range c.Service.Pipelines["traces"].Processors {
		if p == "tail_sampling" || strings.HasPrefix(p, "tail_sampling/") {
			tail = p
		}
	}
	if tail == "" {
		d.report.add(name, StatusFail, "put tail_sampling in the gateways' traces pipeline, after memory_limiter",
			"the gateways' traces pipeline has no tail_sampling processor: nothing decides which traces to keep")
		return
	}
	policy, ok := keepsColdStarts(c.Processors[tail])
	if !ok {
		d.report.add(name, StatusFail, fix, "no %s policy keeps faas.coldstart=true traces on its own: cold starts are kept only as often as the rest", tail)
		return
	}
	d.report.add(name, StatusPass, "", "%s policy %q keeps every trace with faas.coldstart=true", tail, policy)
}

// queueStorage: every exporter of agents and gateways queues in a
// file_storage extension whose directory is a writable volume that
// outlives the process. A collector whose directory cannot be written does
// not start, so ready pods have proven it writable.
func (d *doctor) queueStorage(ctx context.Context, agents, gateways *pod) {
	const name = "pipeline/queue-storage"
	var notes, problems []string
	for _, tier := range []struct {
		name string
		p    *pod
	}{{conventions.AgentName, agents}, {conventions.GatewayName, gateways}} {
		if tier.p == nil {
			continue
		}
		c, err := d.collectorConfig(ctx, tier.name)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", tier.name, err))
			continue
		}
		for exp, cfg := range c.Exporters {
			q, _ := cfg["sending_queue"].(map[string]any)
			storage, _ := q["storage"].(string)
			if storage == "" || q["enabled"] == false {
				problems = append(problems, fmt.Sprintf("%s exporter %s queues in memory: a restart loses it", tier.name, exp))
				continue
			}
			ext, ok := c.Extensions[storage]
			if !ok || !slices.Contains(c.Service.Extensions, storage) {
				problems = append(problems, fmt.Sprintf("%s exporter %s queues in %s, which is not an enabled extension", tier.name, exp, storage))
				continue
			}
			dir, _ := ext["directory"].(string)
			where, ok := volumeOf(tier.p, dir)
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: %s directory %q is not on a writable volume that outlives the pod (%s)", tier.name, storage, dir, where))
				continue
			}
			notes = append(notes, fmt.Sprintf("%s %s on %s", tier.name, exp, where))
		}
		if tier.p.ready == 0 {
			problems = append(problems, fmt.Sprintf("%s: no pod ready, so none has opened its queue", tier.name))
		}
	}
	if len(problems) > 0 {
		d.report.add(name, StatusFail, "keep the shipped sending_queue (storage: file_storage) and its volumes; see "+scaleOutDoc, "%s", strings.Join(problems, "; "))
		return
	}
	if len(notes) == 0 {
		return
	}
	slices.Sort(notes)
	d.report.add(name, StatusPass, "", "persistent queues: %s; ready pods have opened them (a collector whose queue directory cannot be written does not start)", strings.Join(notes, ", "))
}

// volumeOf names the writable volume holding dir in the tier's pods, and
// whether it outlives the pod (a hostPath or a claim).
func volumeOf(p *pod, dir string) (string, bool) {
	if len(p.spec.Containers) == 0 || dir == "" {
		return "no directory", false
	}
	for _, m := range p.spec.Containers[0].VolumeMounts {
		if dir != m.MountPath && !strings.HasPrefix(dir, strings.TrimSuffix(m.MountPath, "/")+"/") {
			continue
		}
		if m.ReadOnly {
			return "volume " + m.Name + " is mounted read-only", false
		}
		if slices.Contains(p.claims, m.Name) {
			return "its own claim " + m.Name, true
		}
		for _, v := range p.spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			switch {
			case v.HostPath != nil:
				return "hostPath " + v.HostPath.Path, true
			case v.PersistentVolumeClaim != nil:
				return "claim " + v.PersistentVolumeClaim.ClaimName, true
			case v.EmptyDir != nil:
				return "emptyDir " + v.Name + " (lost with the pod)", false
			}
		}
		return "volume " + m.Name, false
	}
	return "not mounted: the container's read-only root filesystem", false
}

// jaegerStorage reports the store of kntrace's Jaeger, when it runs one.
func (d *doctor) jaegerStorage(ctx context.Context) {
	const name = "pipeline/jaeger-storage"
	ns := conventions.SystemNamespace
	cm, err := d.kube.CoreV1().ConfigMaps(ns).Get(ctx, conventions.JaegerService+"-config", metav1.GetOptions{})
	if err != nil {
		return // Jaeger of one's own
	}
	var c struct {
		Extensions struct {
			Storage struct {
				Backends map[string]map[string]any `json:"backends"`
			} `json:"jaeger_storage"`
		} `json:"extensions"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data[conventions.JaegerConfigKey]), &c); err != nil {
		d.report.add(name, StatusWarn, "", "cannot read %s-config: %v", conventions.JaegerService, err)
		return
	}
	var kinds []string
	for _, b := range c.Extensions.Storage.Backends {
		for k := range b {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	switch {
	case slices.Contains(kinds, "memory"):
		d.report.add(name, StatusWarn, "use Jaeger on Badger (the scale-out install does) or on OpenSearch/Cassandra ("+scaleOutDoc+")",
			"Jaeger keeps traces in memory: a restart forgets every trace")
	case slices.Contains(kinds, "badger"):
		pvc, err := d.kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "jaeger-badger", metav1.GetOptions{})
		switch {
		case err != nil:
			d.report.add(name, StatusFail, "apply the scale-out install again (scale-out/jaeger-storage.yaml)", "Jaeger on Badger, but its claim jaeger-badger: %v", err)
		case pvc.Status.Phase != corev1.ClaimBound:
			d.report.add(name, StatusFail, "kubectl -n "+ns+" describe pvc jaeger-badger: the cluster needs a StorageClass that provisions it",
				"Jaeger on Badger, but its claim jaeger-badger is %s", orDefault(string(pvc.Status.Phase), "not bound"))
		default:
			d.report.add(name, StatusPass, "", "Jaeger on Badger on claim jaeger-badger (%s): traces survive a restart", pvc.Status.Capacity.Storage())
		}
	default:
		d.report.add(name, StatusPass, "", "Jaeger stores in %s", strings.Join(kinds, ", "))
	}
}
