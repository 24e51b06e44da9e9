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

package configmaps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Client reads and writes Knative's tracing ConfigMaps.
type Client struct {
	kube  kubernetes.Interface
	shape Shape
}

// ClientOption configures a Client.
type ClientOption interface{ apply(*Client) }

type clientOptionFunc func(*Client)

func (f clientOptionFunc) apply(c *Client) { f(c) }

// WithShape forces the shape instead of detecting it from the cluster.
func WithShape(s Shape) ClientOption { return clientOptionFunc(func(c *Client) { c.shape = s }) }

// NewClient returns a Client on kube.
func NewClient(kube kubernetes.Interface, opts ...ClientOption) *Client {
	c := &Client{kube: kube}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// Detection says which shape a namespace uses and why.
type Detection struct {
	Shape          Shape  `json:"shape"`
	KnativeVersion string `json:"knativeVersion,omitempty"`
	Reason         string `json:"reason"`
}

// controllerDeployment is the Deployment whose labels carry the installed
// version in each Knative namespace.
var controllerDeployment = map[string]string{
	ServingNamespace:  "controller",
	EventingNamespace: "eventing-controller",
}

// Detect finds the shape the Knative install in namespace reads: a forced
// shape first, then the installed version (labels on the namespace or the
// controller Deployment: 1.19 and later read config-observability), then the
// shipped ConfigMaps (config-observability documents tracing-* keys since
// 1.19).
func (c *Client) Detect(ctx context.Context, namespace string) (Detection, error) {
	if c.shape != "" {
		return Detection{Shape: c.shape, Reason: "forced with --shape"}, nil
	}
	ns, err := c.kube.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Detection{}, fmt.Errorf("namespace %s not found: is Knative installed on this cluster?", namespace)
	}
	if err != nil {
		return Detection{}, fmt.Errorf("read namespace %s: %w", namespace, err)
	}
	sources := []struct {
		what   string
		labels map[string]string
	}{{"namespace " + namespace, ns.Labels}}
	if name, ok := controllerDeployment[namespace]; ok {
		if d, err := c.kube.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
			sources = append(sources, struct {
				what   string
				labels map[string]string
			}{"deployment " + namespace + "/" + name, d.Labels})
		}
	}
	for _, s := range sources {
		for _, key := range []string{"app.kubernetes.io/version", "serving.knative.dev/release", "eventing.knative.dev/release"} {
			v := s.labels[key]
			major, minor, ok := parseVersion(v)
			if !ok {
				continue
			}
			d := Detection{KnativeVersion: v, Shape: ShapeLegacy, Reason: fmt.Sprintf("%s label %s=%s (before 1.19: config-tracing)", s.what, key, v)}
			// Serving and eventing numbered releases v0.x until 1.0; both are legacy.
			if major > 1 || (major == 1 && minor >= 19) {
				d.Shape, d.Reason = ShapeObservability, fmt.Sprintf("%s label %s=%s (1.19+: config-observability)", s.what, key, v)
			}
			return d, nil
		}
	}
	obs, err := c.kube.CoreV1().ConfigMaps(namespace).Get(ctx, ObservabilityConfigName, metav1.GetOptions{})
	if err == nil && (strings.Contains(obs.Data[ExampleKey], ProtocolKey) || obs.Data[ProtocolKey] != "") {
		return Detection{Shape: ShapeObservability, Reason: ObservabilityConfigName + " documents " + ProtocolKey + " (Knative 1.19+)"}, nil
	}
	if _, err := c.kube.CoreV1().ConfigMaps(namespace).Get(ctx, LegacyConfigName, metav1.GetOptions{}); err == nil {
		return Detection{Shape: ShapeLegacy, Reason: LegacyConfigName + " exists and " + ObservabilityConfigName + " has no tracing keys (Knative before 1.19)"}, nil
	}
	return Detection{}, fmt.Errorf("%s: cannot tell which tracing ConfigMap Knative reads (no version label, no %s with tracing keys, no %s): pass --shape observability or --shape legacy",
		namespace, ObservabilityConfigName, LegacyConfigName)
}

// parseVersion reads "1.23.0", "v1.23.0" or "v0.26.1"; "devel" is not a version.
func parseVersion(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(v), "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	var err1, err2 error
	major, err1 = strconv.Atoi(parts[0])
	minor, err2 = strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// Status is what `kn trace config show` reports for one namespace.
type Status struct {
	Detection
	Namespace       string             `json:"namespace"`
	ConfigMap       string             `json:"configMap"`
	ResourceVersion string             `json:"resourceVersion"`
	Keys            map[string]string  `json:"keys"`
	Observability   *Tracing           `json:"observability,omitempty"`
	Legacy          *LegacyTracing     `json:"legacy,omitempty"`
	Problems        []Problem          `json:"problems,omitempty"`
	Previous        map[string]*string `json:"previous,omitempty"`
}

// Show reads the tracing configuration of namespace.
func (c *Client) Show(ctx context.Context, namespace string) (*Status, error) {
	det, err := c.Detect(ctx, namespace)
	if err != nil {
		return nil, err
	}
	cm, err := c.get(ctx, namespace, det.Shape)
	if err != nil {
		return nil, err
	}
	st := &Status{Detection: det, Namespace: namespace, ConfigMap: cm.Name, ResourceVersion: cm.ResourceVersion, Keys: map[string]string{}}
	for _, k := range det.Shape.TracingKeys() {
		if v, ok := cm.Data[k]; ok {
			st.Keys[k] = v
		}
	}
	if det.Shape == ShapeLegacy {
		st.Legacy, _ = NewLegacyTracingFromMap(cm.Data)
	} else {
		st.Observability, _ = NewTracingFromMap(cm.Data)
	}
	st.Problems = Check(det.Shape, namespace, cm.Data, cm.Labels, CheckOptions{})
	if raw, ok := cm.Annotations[PreviousAnnotation]; ok {
		_ = json.Unmarshal([]byte(raw), &st.Previous)
	}
	return st, nil
}

// Result is the outcome of Set, Migrate or Rollback on one ConfigMap.
type Result struct {
	*Plan
	Detection Detection `json:"detection"`
	// Written is true when the API server accepted a write.
	Written bool `json:"written"`
	// Conflicts counts writes retried after a resourceVersion conflict.
	Conflicts       int    `json:"conflicts"`
	ResourceVersion string `json:"resourceVersion"`
}

// WriteOptions control a write.
type WriteOptions struct {
	DryRun bool
	Check  CheckOptions
}

// Set applies change to the tracing ConfigMap of namespace.
func (c *Client) Set(ctx context.Context, namespace string, change Change, opts WriteOptions) (*Result, error) {
	if change.IsEmpty() {
		return nil, &InputError{Err: errors.New("nothing to set: give at least one of --protocol, --endpoint, --sampling-rate")}
	}
	det, err := c.Detect(ctx, namespace)
	if err != nil {
		return nil, err
	}
	return c.write(ctx, namespace, det, opts, func(cm *corev1.ConfigMap) (*Plan, error) {
		return PlanChange(cm, det.Shape, change, opts.Check)
	})
}

// Rollback restores the tracing keys recorded by kntrace's last write.
func (c *Client) Rollback(ctx context.Context, namespace string, opts WriteOptions) (*Result, error) {
	det, err := c.Detect(ctx, namespace)
	if err != nil {
		return nil, err
	}
	return c.write(ctx, namespace, det, opts, func(cm *corev1.ConfigMap) (*Plan, error) {
		return PlanRollback(cm, det.Shape)
	})
}

// MigrateOptions describe the OTLP collector that replaces a Zipkin backend.
type MigrateOptions struct {
	WriteOptions
	// Protocol is grpc or http/protobuf; default grpc.
	Protocol string
	// Endpoint is the collector's OTLP endpoint; required when the legacy
	// backend is zipkin (a Zipkin URL cannot be reused for OTLP).
	Endpoint string
}

// Migrate turns namespace's legacy config-tracing into config-observability
// tracing keys: backend none becomes protocol none; zipkin becomes the given
// OTLP collector with sample-rate carried over, or rate 1 when debug was on.
// config-tracing itself is left as it is (Knative 1.19+ ignores it).
func (c *Client) Migrate(ctx context.Context, namespace string, opts MigrateOptions) (*Result, error) {
	legacyCM, err := c.kube.CoreV1().ConfigMaps(namespace).Get(ctx, LegacyConfigName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", namespace, LegacyConfigName, err)
	}
	lt, err := NewLegacyTracingFromMap(legacyCM.Data)
	if err != nil {
		return nil, fmt.Errorf("%s/%s cannot be migrated: %w", namespace, LegacyConfigName, err)
	}
	change, err := MigrationChange(lt, opts.Protocol, opts.Endpoint)
	if err != nil {
		return nil, &InputError{Err: err}
	}
	det := Detection{Shape: ShapeObservability, Reason: "migration target"}
	return c.write(ctx, namespace, det, opts.WriteOptions, func(cm *corev1.ConfigMap) (*Plan, error) {
		return PlanChange(cm, ShapeObservability, change, opts.Check)
	})
}

// MigrationChange is the config-observability change equivalent to lt.
func MigrationChange(lt *LegacyTracing, protocol, endpoint string) (Change, error) {
	if lt.Backend != BackendZipkin {
		none := ProtocolNone
		return Change{Protocol: &none}, nil
	}
	if endpoint == "" {
		return Change{}, fmt.Errorf("--endpoint is required: %s %q is a Zipkin endpoint and Knative 1.19+ exports OTLP; give the collector's OTLP endpoint, e.g. http://otel-collector.kntrace-system:4317",
			ZipkinEndpointKey, lt.ZipkinEndpoint)
	}
	if protocol == "" {
		protocol = ProtocolGRPC
	}
	if protocol != ProtocolGRPC && protocol != ProtocolHTTPProtobuf {
		return Change{}, fmt.Errorf("--protocol %q: a migration exports OTLP, want grpc or http/protobuf", protocol)
	}
	rate := lt.SampleRate
	if lt.Debug {
		rate = 1
	}
	return Change{Protocol: &protocol, Endpoint: &endpoint, SamplingRate: &rate}, nil
}

func (c *Client) get(ctx context.Context, namespace string, shape Shape) (*corev1.ConfigMap, error) {
	cm, err := c.kube.CoreV1().ConfigMaps(namespace).Get(ctx, shape.ConfigName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("ConfigMap %s/%s not found: Knative installs it; is Knative installed, and is the shape right (--shape)?", namespace, shape.ConfigName())
	}
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", namespace, shape.ConfigName(), err)
	}
	return cm, nil
}

// write reads the ConfigMap, plans, and updates it with its resourceVersion;
// on a conflict it reads and plans again, so a concurrent writer's keys are
// kept and the result is computed from the latest object.
func (c *Client) write(ctx context.Context, namespace string, det Detection, opts WriteOptions, plan func(*corev1.ConfigMap) (*Plan, error)) (*Result, error) {
	res := &Result{Detection: det}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := c.get(ctx, namespace, det.Shape)
		if err != nil {
			return err
		}
		p, err := plan(cm)
		if err != nil {
			return err
		}
		res.Plan, res.ResourceVersion = p, cm.ResourceVersion
		if opts.DryRun || !p.NeedsWrite() {
			return nil
		}
		updated, err := c.kube.CoreV1().ConfigMaps(namespace).Update(ctx, p.After(), metav1.UpdateOptions{FieldManager: "kntrace"})
		if apierrors.IsConflict(err) {
			res.Conflicts++
			return err
		}
		if err != nil {
			return fmt.Errorf("update %s/%s: %w", namespace, cm.Name, err)
		}
		res.Written, res.ResourceVersion = true, updated.ResourceVersion
		return nil
	})
	if err != nil {
		return res, err
	}
	return res, nil
}
