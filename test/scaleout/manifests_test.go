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

package scaleout_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/settings"
	"github.com/kntrace/kntrace/test/backends"
	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/manifests"
)

// built is `kubectl kustomize scale-out`, indexed by kind/name.
type built map[string]*unstructured.Unstructured

func kustomize(t *testing.T, dir string) built {
	t.Helper()
	kubectl, err := binaries.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, kubectl, "kustomize", dir)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
	}
	path := filepath.Join(t.TempDir(), "built.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := built{}
	for _, o := range objs {
		b[o.GetKind()+"/"+o.GetName()] = o
	}
	return b
}

func (b built) into(t *testing.T, key string, v any) {
	t.Helper()
	o, ok := b[key]
	if !ok {
		t.Fatalf("the scale-out install has no %s", key)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
}

// TestBaseKustomizationListsConfig: config/Kustomization, the base of the
// scale-out install, lists exactly the files `ko apply -Rf config/` applies.
func TestBaseKustomizationListsConfig(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repo, "config", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		want = append(want, filepath.Base(f))
	}
	b, err := os.ReadFile(filepath.Join(repo, "config", "Kustomization"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, k.Resources); diff != "" {
		t.Errorf("config/Kustomization resources (-config/*.yaml +listed):\n%s", diff)
	}
}

// TestManifests: the scale-out install builds with kustomize and is what
// docs/install.md says: agents per node behind the otel-collector Service,
// at least two gateways behind a headless Service the agents resolve, their
// queues on volumes, Jaeger on Badger on a claim, config-kntrace in tail
// mode, and images of the versions these tests run.
func TestManifests(t *testing.T) {
	b := kustomize(t, filepath.Join(repo, "scale-out"))
	for _, gone := range []string{"Deployment/otel-collector", "ConfigMap/otel-collector-config"} {
		if _, ok := b[gone]; ok {
			t.Errorf("%s of the single-collector install is still there", gone)
		}
	}

	var agent appsv1.DaemonSet
	b.into(t, "DaemonSet/otel-agent", &agent)
	var gateway appsv1.StatefulSet
	b.into(t, "StatefulSet/otel-gateway", &gateway)
	var headless, entry, jaegerSvc corev1.Service
	b.into(t, "Service/otel-gateway", &headless)
	b.into(t, "Service/otel-collector", &entry)
	b.into(t, "Service/jaeger", &jaegerSvc)
	var jaegerDep appsv1.Deployment
	b.into(t, "Deployment/jaeger", &jaegerDep)
	var agentRole rbacv1.Role
	b.into(t, "Role/otel-agent", &agentRole)
	var kntraceCM corev1.ConfigMap
	b.into(t, "ConfigMap/config-kntrace", &kntraceCM)

	if gateway.Spec.Replicas == nil || *gateway.Spec.Replicas < 2 {
		t.Errorf("gateways: replicas %v, want at least 2", ptrString(gateway.Spec.Replicas))
	}
	if headless.Spec.ClusterIP != corev1.ClusterIPNone || gateway.Spec.ServiceName != headless.Name {
		t.Errorf("otel-gateway Service: clusterIP %q, StatefulSet serviceName %q; want a headless Service the StatefulSet names", headless.Spec.ClusterIP, gateway.Spec.ServiceName)
	}
	if !matches(headless.Spec.Selector, gateway.Spec.Template.Labels) {
		t.Errorf("otel-gateway Service selects %v, the gateways are labelled %v", headless.Spec.Selector, gateway.Spec.Template.Labels)
	}
	if !matches(entry.Spec.Selector, agent.Spec.Template.Labels) || entry.Spec.InternalTrafficPolicy == nil || *entry.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal {
		t.Errorf("otel-collector Service: selector %v, internalTrafficPolicy %v; want the agents, Local", entry.Spec.Selector, entry.Spec.InternalTrafficPolicy)
	}
	for _, key := range []string{"PodDisruptionBudget/otel-gateway", "PodDisruptionBudget/kntrace-webhook", "PersistentVolumeClaim/jaeger-badger"} {
		if _, ok := b[key]; !ok {
			t.Errorf("no %s", key)
		}
	}
	if agent.Spec.Template.Spec.ServiceAccountName != agentRole.Name || !slices.ContainsFunc(agentRole.Rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.Resources, "endpointslices") && slices.Contains(r.Verbs, "watch") && slices.Contains(r.Verbs, "list")
	}) {
		t.Errorf("the agents' ServiceAccount %q must list and watch EndpointSlices (the Kubernetes resolver): %+v", agent.Spec.Template.Spec.ServiceAccountName, agentRole.Rules)
	}

	// The agents resolve the headless Service on the gateways' port.
	agentCfg := collectorConfig(t, b, backends.AgentConfigMap)
	lb := agentCfg.Exporters["load_balancing"]
	if got := lookup(lb, "routing_key"); got != "traceID" {
		t.Errorf("agents route by %v, want traceID", got)
	}
	wantResolver := map[string]any{"k8s": map[string]any{"service": headless.Name + "." + headless.Namespace, "ports": []any{float64(headless.Spec.Ports[0].Port)}}}
	if diff := cmp.Diff(wantResolver, lookup(lb, "resolver")); diff != "" {
		t.Errorf("the agents' resolver (-the headless Service +configured):\n%s", diff)
	}
	gatewayCfg := collectorConfig(t, b, backends.GatewayConfigMap)
	if got := lookup(gatewayCfg.Exporters["otlp_grpc/jaeger"], "endpoint"); got != jaegerSvc.Name+"."+jaegerSvc.Namespace+".svc.cluster.local:4317" {
		t.Errorf("the gateways export to %v, want the jaeger Service's OTLP port", got)
	}

	// Every queue is persistent, on a writable volume of its pod.
	for _, c := range []struct {
		name string
		cfg  collectorCfg
		pod  corev1.PodSpec
		vcts []corev1.PersistentVolumeClaim
	}{{"agent", agentCfg, agent.Spec.Template.Spec, nil}, {"gateway", gatewayCfg, gateway.Spec.Template.Spec, gateway.Spec.VolumeClaimTemplates}} {
		dir, _ := lookup(c.cfg.Extensions["file_storage"], "directory").(string)
		for name, e := range c.cfg.Exporters {
			if q := lookup(e, "sending_queue"); lookup(q, "storage") != "file_storage" {
				t.Errorf("%s exporter %s: sending_queue %v, want storage: file_storage", c.name, name, q)
			}
		}
		mount, ok := mountAt(c.pod.Containers[0], dir)
		if !ok || mount.ReadOnly {
			t.Errorf("%s: file_storage directory %q is not a writable mount (%+v)", c.name, dir, mount)
			continue
		}
		if !slices.ContainsFunc(c.pod.Volumes, func(v corev1.Volume) bool { return v.Name == mount.Name && v.HostPath != nil }) &&
			!slices.ContainsFunc(c.vcts, func(p corev1.PersistentVolumeClaim) bool { return p.Name == mount.Name }) {
			t.Errorf("%s: the queue's volume %q neither outlives the pod on the node (hostPath) nor is a claim of its own", c.name, mount.Name)
		}
	}

	// Jaeger's Badger directories are on the claim.
	jcfg := jaegerConfig(t, b)
	dirs := lookup(lookup(lookup(lookup(jcfg, "extensions"), "jaeger_storage"), "backends"), "badger_store")
	for _, d := range []string{"keys", "values"} {
		path, _ := lookup(lookup(lookup(dirs, "badger"), "directories"), d).(string)
		m, ok := mountAt(jaegerDep.Spec.Template.Spec.Containers[0], path)
		if !ok || !slices.ContainsFunc(jaegerDep.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
			return v.Name == m.Name && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == "jaeger-badger"
		}) {
			t.Errorf("Badger's %s directory %q is not on the jaeger-badger claim", d, path)
		}
	}
	if jaegerDep.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || jaegerDep.Spec.Replicas != nil && *jaegerDep.Spec.Replicas != 1 {
		t.Errorf("Jaeger on Badger: strategy %s, replicas %v; want one replica, Recreate (Badger is a single-node store)", jaegerDep.Spec.Strategy.Type, jaegerDep.Spec.Replicas)
	}

	cfg, err := settings.NewConfigFromMap(kntraceCM.Data)
	if err != nil {
		t.Fatalf("config-kntrace of the scale-out install: %v", err)
	}
	if cfg.SamplingMode != settings.SamplingModeTail || cfg.HeadSamplingRate() != 1 {
		t.Errorf("config-kntrace: sampling-mode %q, head rate %v; want tail, 1", cfg.SamplingMode, cfg.HeadSamplingRate())
	}

	// The images are the versions these tests run.
	collectorVersion := strings.TrimPrefix(modVersion(t, "tools/otelcol/go.mod", "go.opentelemetry.io/collector/otelcol"), "v")
	jaegerV1 := modVersion(t, "tools/jaeger/go.mod", "github.com/jaegertracing/jaeger")
	for name, image := range map[string]string{"agent": agent.Spec.Template.Spec.Containers[0].Image, "gateway": gateway.Spec.Template.Spec.Containers[0].Image} {
		if want := "otel/opentelemetry-collector-contrib:" + collectorVersion; image != want {
			t.Errorf("%s image %q, want %q (tools/otelcol)", name, image, want)
		}
	}
	if want := "jaegertracing/jaeger:" + jaegerV2(t, jaegerV1); jaegerDep.Spec.Template.Spec.Containers[0].Image != want {
		t.Errorf("Jaeger image %q, want %q (tools/jaeger %s)", jaegerDep.Spec.Template.Spec.Containers[0].Image, want, jaegerV1)
	}
}

// jaegerV2 is the Jaeger v2 release of a v1 module version: both are tagged
// together, v2.0.0 with v1.63.0.
func jaegerV2(t *testing.T, v1 string) string {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(v1, "v"), ".")
	minor, err := strconv.Atoi(parts[1])
	if len(parts) != 3 || err != nil || minor < 63 {
		t.Fatalf("Jaeger module version %q: want v1.N.P with N ≥ 63", v1)
	}
	return fmt.Sprintf("2.%d.%s", minor-63, parts[2])
}

func modVersion(t *testing.T, gomod, module string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, gomod))
	if err != nil {
		t.Fatal(err)
	}
	// "module version" on a require line or in a require block.
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	t.Fatalf("%s does not require %s", gomod, module)
	return ""
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func mountAt(c corev1.Container, path string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

type collectorCfg struct {
	Exporters  map[string]any `json:"exporters"`
	Extensions map[string]any `json:"extensions"`
}

func collectorConfig(t *testing.T, b built, configMap string) collectorCfg {
	t.Helper()
	var cm corev1.ConfigMap
	b.into(t, "ConfigMap/"+configMap, &cm)
	var c collectorCfg
	if err := yaml.Unmarshal([]byte(cm.Data[backends.CollectorKey]), &c); err != nil {
		t.Fatalf("%s: %v", configMap, err)
	}
	return c
}

func jaegerConfig(t *testing.T, b built) any {
	t.Helper()
	var cm corev1.ConfigMap
	b.into(t, "ConfigMap/"+backends.JaegerConfigMap, &cm)
	var c any
	if err := yaml.Unmarshal([]byte(cm.Data[backends.JaegerKey]), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// lookup is m[key] when m is a map.
func lookup(m any, key string) any {
	mm, _ := m.(map[string]any)
	return mm[key]
}

// TestShippedConfigsValidate: the collector that the tests run accepts the
// shipped agent and gateway configurations as they are (Kubernetes resolver
// included), and Jaeger accepts the shipped Badger configuration and the
// OpenSearch and Cassandra examples (keys and types: those two stores were
// never run here).
func TestShippedConfigsValidate(t *testing.T) {
	otelcol := binaries.Require(t, binaries.Collector)
	jaegerBin := binaries.Require(t, binaries.Jaeger)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, bin, config string
		env               []string
	}{
		{name: "agent", bin: otelcol, config: write("agent.yaml", shipped(t, backends.AgentManifest, backends.AgentConfigMap, backends.CollectorKey))},
		{name: "gateway", bin: otelcol, config: write("gateway.yaml", shipped(t, backends.GatewayManifest, backends.GatewayConfigMap, backends.CollectorKey))},
		{name: "jaeger badger", bin: jaegerBin, config: write("badger.yaml", shipped(t, backends.JaegerPatch, backends.JaegerConfigMap, backends.JaegerKey))},
		{name: "jaeger opensearch (not run)", bin: jaegerBin, env: []string{"OPENSEARCH_USERNAME=u", "OPENSEARCH_PASSWORD=p"},
			config: write("opensearch.yaml", shipped(t, "scale-out/jaeger-opensearch.example", backends.JaegerConfigMap, backends.JaegerKey))},
		{name: "jaeger cassandra (not run)", bin: jaegerBin, env: []string{"CASSANDRA_USERNAME=u", "CASSANDRA_PASSWORD=p"},
			config: write("cassandra.yaml", shipped(t, "scale-out/jaeger-cassandra.example", backends.JaegerConfigMap, backends.JaegerKey))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, tc.bin, "validate", "--config", "file:"+tc.config)
			cmd.Env = append(os.Environ(), tc.env...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s validate: %v\n%s", filepath.Base(tc.bin), err, out)
			}
		})
	}
	// And validate refuses a broken one, so passing means something.
	bad := write("bad.yaml", []byte("exporters:\n  load_balancing:\n    routing_key: traceID\n    resolverz: {}\n"))
	if out, err := exec.Command(otelcol, "validate", "--config", "file:"+bad).CombinedOutput(); err == nil {
		t.Errorf("otelcol validate accepted an unknown key:\n%s", out)
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
