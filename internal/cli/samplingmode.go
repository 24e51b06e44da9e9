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

package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

// parseSamplingMode reads --sampling-mode and checks it against
// --sampling-rate: in tail mode the head samples every trace.
func parseSamplingMode(mode string, rate *float64) (string, error) {
	m := strings.ToLower(strings.TrimSpace(mode))
	switch m {
	case settings.SamplingModeHead:
	case settings.SamplingModeTail:
		if rate != nil && *rate != 1 {
			return "", usageError("--sampling-rate %g with --sampling-mode tail: in tail mode Knative and applications sample every trace (1) and the gateways decide; "+
				"set the share of other traces kept in the gateways' tail_sampling ratio policy (scale-out/otel-gateway.yaml), and leave --sampling-rate out", *rate)
		}
	default:
		return "", usageError("--sampling-mode %q: want %s (sample at --sampling-rate where a trace starts) or %s (sample every trace; the scale-out gateways keep cold starts, errors, slow traces and a ratio of the rest)",
			mode, settings.SamplingModeHead, settings.SamplingModeTail)
	}
	return m, nil
}

// kntraceChange is what `kn trace config set` writes into config-kntrace:
// --sampling-mode, and, when kntrace's controller keeps Knative's ConfigMaps
// as config-kntrace says (manage-knative-config), the protocol, endpoint
// and rate too, or the controller would undo kn's write to Knative's.
type kntraceChange struct {
	keys     []string // in the order given
	from, to map[string]string
	// missing: kntrace is not installed (no config-kntrace); nothing to do
	// there, only Knative's ConfigMaps change.
	missing bool
	// managed: config-kntrace's manage-knative-config is on.
	managed bool
}

// readKntrace reads config-kntrace: whether it exists and whether its
// controller manages Knative's ConfigMaps.
func readKntrace(ctx context.Context, kube kubernetes.Interface) (kntraceChange, map[string]string, error) {
	c := kntraceChange{from: map[string]string{}, to: map[string]string{}}
	cm, err := kube.CoreV1().ConfigMaps(conventions.SystemNamespace).Get(ctx, settings.ConfigName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		c.missing = true
		return c, nil, nil
	}
	if err != nil {
		return c, nil, fmt.Errorf("read %s/%s: %w", conventions.SystemNamespace, settings.ConfigName, err)
	}
	data := maps.Clone(cm.Data)
	if data == nil {
		data = map[string]string{}
	}
	cfg, err := settings.NewConfigFromMap(data)
	if err != nil {
		return c, nil, fmt.Errorf("%s/%s: %w", conventions.SystemNamespace, settings.ConfigName, err)
	}
	c.managed = cfg.ManageKnativeConfig
	return c, data, nil
}

// set adds key=value to the change and checks that config-kntrace stays
// valid with every change so far; it writes nothing.
func (c *kntraceChange) set(data map[string]string, key, value string) error {
	if c.missing {
		return nil
	}
	if _, seen := c.to[key]; !seen {
		c.keys = append(c.keys, key)
		c.from[key] = data[key]
	}
	c.to[key] = value
	next := maps.Clone(data)
	maps.Copy(next, c.to)
	if _, err := settings.NewConfigFromMap(next); err != nil {
		return usageError("%v", err)
	}
	return nil
}

// changed reports whether any key gets a new value.
func (c *kntraceChange) changed() bool {
	for _, k := range c.keys {
		if c.from[k] != c.to[k] {
			return true
		}
	}
	return false
}

// applyKntrace writes the change into config-kntrace, keeping every other
// key, unless it is already there.
func applyKntrace(ctx context.Context, kube kubernetes.Interface, c kntraceChange) (bool, error) {
	if c.missing || len(c.keys) == 0 {
		return false, nil
	}
	written := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cms := kube.CoreV1().ConfigMaps(conventions.SystemNamespace)
		cm, err := cms.Get(ctx, settings.ConfigName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		same := true
		for _, k := range c.keys {
			if v, ok := cm.Data[k]; !ok || v != c.to[k] {
				same = false
			}
		}
		if same {
			return nil
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		for _, k := range c.keys {
			cm.Data[k] = c.to[k]
		}
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kn-trace"}); err != nil {
			return err
		}
		written = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("write %s/%s %s: %w", conventions.SystemNamespace, settings.ConfigName, strings.Join(c.keys, ", "), err)
	}
	return written, nil
}

func printKntrace(w io.Writer, c kntraceChange, dryRun, written bool) {
	where := conventions.SystemNamespace + "/" + settings.ConfigName
	switch {
	case c.missing:
		fmt.Fprintf(w, "%s: not found (kntrace's webhook is not installed): only Knative's ConfigMaps were changed\n", where)
		return
	case len(c.keys) == 0:
		return
	case !c.changed() || (!dryRun && !written):
		fmt.Fprintf(w, "%s\n  unchanged: %s\n", where, c.pairs(c.to))
		return
	}
	fmt.Fprintln(w, where)
	for _, k := range c.keys {
		if c.from[k] != c.to[k] {
			fmt.Fprintf(w, "  -  %s: %q\n  +  %s: %q\n", k, c.from[k], k, c.to[k])
		}
	}
	if dryRun {
		fmt.Fprintln(w, "  dry run: nothing written")
		return
	}
	note := "the webhook injects the new settings into revisions created or updated from now on"
	if c.managed {
		note += "; kntrace's controller keeps Knative's ConfigMaps as config-kntrace says"
	}
	fmt.Fprintf(w, "  written (%s)\n", note)
}

func (c *kntraceChange) pairs(m map[string]string) string {
	out := make([]string, len(c.keys))
	for i, k := range c.keys {
		out[i] = fmt.Sprintf("%s is already %q", k, m[k])
	}
	return strings.Join(out, ", ")
}
