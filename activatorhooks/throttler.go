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

package activatorhooks

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"

	activatorhandler "knative.dev/serving/pkg/activator/handler"
	"knative.dev/serving/pkg/apis/serving"
	v1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/reconciler/serverlessservice/resources/names"
)

// Throttler wraps the activator's throttler. The span in the context Try is
// called with (upstream's throttler_try) gets the revision, the ready
// backends when the request arrived and the wait's duration; the moment
// capacity was granted is kept for the cold-start phases.
func (h *Hooks) Throttler(t activatorhandler.Throttler) activatorhandler.Throttler {
	return &throttler{h: h, next: t}
}

type throttler struct {
	h    *Hooks
	next activatorhandler.Throttler
}

var _ activatorhandler.Throttler = (*throttler)(nil)

func (t *throttler) Try(ctx context.Context, revID types.NamespacedName, fn func(dest string, isClusterIP bool) error) error {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return t.next.Try(ctx, revID, fn)
	}
	start := t.h.cfg.now()
	// One attribute update, when the wait ends: the SDK copies attributes
	// into the span, and a second update would grow that copy.
	kvs := revisionAttributes(ctx, revID, make([]attribute.KeyValue, 0, 6))
	nrev := len(kvs)
	if f := t.h.cfg.readyBackends; f != nil {
		if n, ok := f(revID); ok {
			kvs = append(kvs, attribute.Int(AttrReadyBackends, n), attribute.Bool(AttrZeroBackends, n == 0))
		}
	}
	st := requestFrom(ctx)
	if st != nil {
		st.attrs = kvs[:nrev:nrev]
	}
	granted := false
	err := t.next.Try(ctx, revID, func(dest string, isClusterIP bool) error {
		granted = true
		now := t.h.cfg.now()
		span.SetAttributes(append(kvs, waitMs(now.Sub(start)))...)
		if st != nil {
			st.granted = now
		}
		return fn(dest, isClusterIP)
	})
	if !granted {
		span.SetAttributes(append(kvs, waitMs(t.h.cfg.now().Sub(start)))...)
	}
	return err
}

func waitMs(d time.Duration) attribute.KeyValue {
	return attribute.Float64(AttrWaitMs, float64(d)/float64(time.Millisecond))
}

// revisionAttributes appends to kvs the faas.* and k8s.* attributes of the
// revision the context handler put in ctx (faas.name is its Service, else
// its Configuration).
func revisionAttributes(ctx context.Context, revID types.NamespacedName, kvs []attribute.KeyValue) []attribute.KeyValue {
	if rev := revisionFrom(ctx); rev != nil {
		if name := rev.Labels[serving.ServiceLabelKey]; name != "" {
			kvs = append(kvs, semconv.FaaSName(name))
		} else if name := rev.Labels[serving.ConfigurationLabelKey]; name != "" {
			kvs = append(kvs, semconv.FaaSName(name))
		}
	}
	return append(kvs, semconv.FaaSVersion(revID.Name), semconv.K8SNamespaceName(revID.Namespace))
}

// revisionFrom is activatorhandler.RevisionFrom without its panic when the
// context handler did not run.
func revisionFrom(ctx context.Context) (rev *v1.Revision) {
	defer func() {
		if recover() != nil {
			rev = nil
		}
	}()
	return activatorhandler.RevisionFrom(ctx)
}

// EndpointsReadyBackends counts the ready addresses of a revision's private
// Endpoints (<revision>-private, which Knative fills with the revision's
// ready pods), the ones the activator's throttler probes and routes to.
// Endpoints that do not exist (yet) count as zero: the revision has no pod
// the activator could route to.
func EndpointsReadyBackends(lister corev1listers.EndpointsLister) ReadyBackendsFunc {
	return func(rev types.NamespacedName) (int, bool) {
		eps, err := lister.Endpoints(rev.Namespace).Get(names.PrivateService(rev.Name))
		if apierrors.IsNotFound(err) {
			return 0, true
		}
		if err != nil {
			return 0, false
		}
		n := 0
		for _, s := range eps.Subsets {
			n += len(s.Addresses)
		}
		return n, true
	}
}
