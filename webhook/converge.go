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

package webhook

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

// Knative serving ConfigMaps and keys the Converger keeps besides tracing.
const (
	FeaturesConfigName   = "config-features"
	MountPodInfoKey      = "queueproxy.mount-podinfo"
	DeploymentConfigName = "config-deployment"
	QueueSidecarImageKey = "queue-sidecar-image"
)

// KnativeNamespaces are the namespaces whose tracing ConfigMaps the
// Converger keeps.
var KnativeNamespaces = []string{configmaps.ServingNamespace, configmaps.EventingNamespace}

// ManagedConfigMaps are the ConfigMaps the Converger reads and writes in
// namespace ns (config/200-rbac.yaml grants exactly these names).
func ManagedConfigMaps(ns string) []string {
	names := []string{configmaps.ObservabilityConfigName, configmaps.LegacyConfigName}
	if ns == configmaps.ServingNamespace {
		names = append(names, FeaturesConfigName, DeploymentConfigName)
	}
	return names
}

// Converger keeps Knative's ConfigMaps as config-kntrace says. It writes
// only what differs, so running it again with nothing changed writes nothing
// (every write of serving's config-observability rolls every revision's
// pods).
type Converger struct {
	kube kubernetes.Interface
}

// NewConverger returns a Converger on kube.
func NewConverger(kube kubernetes.Interface) *Converger { return &Converger{kube: kube} }

// Write is one ConfigMap the Converger changed.
type Write struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Keys are the data keys that changed.
	Keys []string `json:"keys"`
}

// Converge brings Knative's ConfigMaps in line with cfg and returns what it
// wrote. A namespace where Knative is not installed is skipped; errors in one
// namespace do not stop the others.
func (c *Converger) Converge(ctx context.Context, cfg *settings.Config) ([]Write, error) {
	if !cfg.ManageKnativeConfig {
		return nil, nil
	}
	var (
		writes []Write
		errs   []error
	)
	for _, ns := range KnativeNamespaces {
		if _, err := c.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			errs = append(errs, fmt.Errorf("read namespace %s: %w", ns, err))
			continue
		}
		w, err := c.tracing(ctx, ns, cfg)
		if err != nil {
			errs = append(errs, err)
		}
		writes = append(writes, w...)
	}
	if _, err := c.kube.CoreV1().Namespaces().Get(ctx, configmaps.ServingNamespace, metav1.GetOptions{}); err == nil {
		w, err := c.setKey(ctx, configmaps.ServingNamespace, FeaturesConfigName, MountPodInfoKey, func(v string, ok bool) (string, bool) {
			// "enabled" mounts podinfo everywhere, a superset of "allowed".
			return "allowed", v != "allowed" && v != "enabled"
		})
		if err != nil {
			errs = append(errs, err)
		}
		writes = append(writes, w...)
		if img := cfg.QueueSidecarImage; img != "" {
			w, err := c.setKey(ctx, configmaps.ServingNamespace, DeploymentConfigName, QueueSidecarImageKey, func(v string, _ bool) (string, bool) {
				return img, v != img
			})
			if err != nil {
				errs = append(errs, err)
			}
			writes = append(writes, w...)
		}
	}
	return writes, errors.Join(errs...)
}

// TracingChange is the tracing change that makes Knative export as cfg
// says, in the shape of the installed Knative.
func TracingChange(cfg *settings.Config, shape configmaps.Shape) configmaps.Change {
	rate := cfg.HeadSamplingRate()
	if shape == configmaps.ShapeLegacy {
		if cfg.CollectorProtocol == conventions.ProtocolNone {
			none := configmaps.BackendNone
			return configmaps.Change{Protocol: &none}
		}
		backend, endpoint := configmaps.BackendZipkin, cfg.ZipkinEndpoint
		return configmaps.Change{Protocol: &backend, Endpoint: &endpoint, SamplingRate: &rate}
	}
	protocol := cfg.CollectorProtocol
	if protocol == conventions.ProtocolNone {
		return configmaps.Change{Protocol: &protocol}
	}
	endpoint := cfg.CollectorEndpoint
	return configmaps.Change{Protocol: &protocol, Endpoint: &endpoint, SamplingRate: &rate}
}

func (c *Converger) tracing(ctx context.Context, ns string, cfg *settings.Config) ([]Write, error) {
	det, err := configmaps.NewClient(c.kube).Detect(ctx, ns)
	if err != nil {
		return nil, err
	}
	change := TracingChange(cfg, det.Shape)
	res, err := configmaps.NewClient(c.kube, configmaps.WithShape(det.Shape)).Set(ctx, ns, change,
		configmaps.WriteOptions{Check: configmaps.CheckOptions{AllowZeroSampling: true}})
	if err != nil {
		return nil, fmt.Errorf("converge %s tracing (%s): %w", ns, det.Shape.ConfigName(), err)
	}
	if !res.Written {
		return nil, nil
	}
	w := Write{Namespace: ns, Name: res.Plan.Name}
	for _, k := range res.Plan.Changes {
		w.Keys = append(w.Keys, k.Key)
	}
	return []Write{w}, nil
}

// setKey sets one key of a ConfigMap when want says so, keeping every other
// key (and _example) as it is; an absent ConfigMap is left alone.
func (c *Converger) setKey(ctx context.Context, ns, name, key string, want func(v string, ok bool) (string, bool)) ([]Write, error) {
	var written bool
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		written = false
		cm, err := c.kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		v, ok := cm.Data[key]
		nv, change := want(v, ok)
		if !change {
			return nil
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[key] = nv
		if _, err := c.kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kntrace"}); err != nil {
			return err
		}
		written = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set %s in %s/%s: %w", key, ns, name, err)
	}
	if !written {
		return nil, nil
	}
	return []Write{{Namespace: ns, Name: name, Keys: []string{key}}}, nil
}
