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

// kntraceChange is one key of config-kntrace set by `kn trace config set`.
type kntraceChange struct {
	key, from, to string
	// missing: kntrace is not installed (no config-kntrace); nothing to do
	// there, only Knative's ConfigMaps change.
	missing bool
}

// planKntrace reads config-kntrace and checks that setting key to value
// leaves it valid; it writes nothing.
func planKntrace(ctx context.Context, kube kubernetes.Interface, key, value string) (kntraceChange, error) {
	c := kntraceChange{key: key, to: value}
	cm, err := kube.CoreV1().ConfigMaps(conventions.SystemNamespace).Get(ctx, settings.ConfigName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		c.missing = true
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("read %s/%s: %w", conventions.SystemNamespace, settings.ConfigName, err)
	}
	c.from = cm.Data[key]
	data := maps.Clone(cm.Data)
	if data == nil {
		data = map[string]string{}
	}
	data[key] = value
	if _, err := settings.NewConfigFromMap(data); err != nil {
		return c, usageError("%v", err)
	}
	return c, nil
}

// applyKntrace writes the change into config-kntrace, keeping every other
// key, unless it is already there.
func applyKntrace(ctx context.Context, kube kubernetes.Interface, c kntraceChange) (bool, error) {
	if c.missing {
		return false, nil
	}
	written := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cms := kube.CoreV1().ConfigMaps(conventions.SystemNamespace)
		cm, err := cms.Get(ctx, settings.ConfigName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if v, ok := cm.Data[c.key]; ok && v == c.to {
			return nil
		}
		cm = cm.DeepCopy()
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[c.key] = c.to
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kn-trace"}); err != nil {
			return err
		}
		written = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("write %s/%s %s: %w", conventions.SystemNamespace, settings.ConfigName, c.key, err)
	}
	return written, nil
}

func printKntrace(w io.Writer, c kntraceChange, dryRun, written bool) {
	where := conventions.SystemNamespace + "/" + settings.ConfigName
	switch {
	case c.missing:
		fmt.Fprintf(w, "%s: not found (kntrace's webhook is not installed): only Knative's ConfigMaps were changed\n", where)
	case c.from == c.to:
		fmt.Fprintf(w, "%s\n  unchanged: %s is already %q\n", where, c.key, c.to)
	case dryRun:
		fmt.Fprintf(w, "%s\n  -  %s: %q\n  +  %s: %q\n  dry run: nothing written\n", where, c.key, c.from, c.key, c.to)
	case written:
		fmt.Fprintf(w, "%s\n  %s: %q → %q (the webhook injects the new rate into revisions created or updated from now on)\n", where, c.key, c.from, c.to)
	default:
		fmt.Fprintf(w, "%s\n  unchanged: %s is already %q\n", where, c.key, c.to)
	}
}
