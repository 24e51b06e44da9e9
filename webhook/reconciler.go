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
	"bytes"
	"context"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/util/workqueue"
	"knative.dev/pkg/system"
	certresources "knative.dev/pkg/webhook/certificates/resources"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

// Work queue keys.
const (
	keyConverge = "converge"
	keyCABundle = "cabundle"
)

// reconcilerQueue names the reconciler's lease:
// LeaseComponent.reconcilerQueue.00-of-01.
const reconcilerQueue = "reconciler"

// reconciler runs the work queue: converging Knative's ConfigMaps and
// writing the CA into the MutatingWebhookConfiguration.
type reconciler struct {
	kube      kubernetes.Interface
	secrets   corelisters.SecretLister
	store     *configStore
	converger *Converger
	logger    *zap.SugaredLogger
	// leader says whether this replica holds the lease; the others drop
	// their keys (the leader sees the same events).
	leader interface {
		IsLeaderFor(types.NamespacedName) bool
	}
}

func (r *reconciler) run(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], resync time.Duration) {
	go func() {
		t := time.NewTicker(resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				queue.Add(keyConverge)
				queue.Add(keyCABundle)
			}
		}
	}()
	queue.Add(keyCABundle)
	for {
		key, quit := queue.Get()
		if quit {
			return
		}
		if !r.leader.IsLeaderFor(types.NamespacedName{Namespace: system.Namespace(), Name: key}) {
			queue.Forget(key)
			queue.Done(key)
			continue
		}
		var err error
		switch key {
		case keyConverge:
			err = r.converge(ctx)
		case keyCABundle:
			err = r.caBundle(ctx)
		}
		if err != nil && ctx.Err() == nil {
			r.logger.Errorw("reconcile failed; retrying", "key", key, zap.Error(err))
			queue.AddRateLimited(key)
		} else {
			queue.Forget(key)
		}
		queue.Done(key)
	}
}

func (r *reconciler) converge(ctx context.Context) error {
	if !r.store.present.Load() {
		r.logger.Infof("%s/%s not found: leaving Knative's ConfigMaps alone", system.Namespace(), settings.ConfigName)
		return nil
	}
	writes, err := r.converger.Converge(ctx, r.store.get())
	for _, w := range writes {
		r.logger.Infow("converged a Knative ConfigMap", "namespace", w.Namespace, "name", w.Name, "keys", w.Keys)
	}
	return err
}

// caBundle writes the CA of SecretName into every webhook of
// conventions.WebhookConfigurationName that does not carry it yet.
func (r *reconciler) caBundle(ctx context.Context) error {
	s, err := r.secrets.Secrets(system.Namespace()).Get(SecretName)
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	ca := s.Data[certresources.CACert]
	if len(ca) == 0 {
		return nil // the certificates controller has not filled it yet
	}
	mwc, err := r.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, conventions.WebhookConfigurationName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	changed := false
	for i := range mwc.Webhooks {
		if !bytes.Equal(mwc.Webhooks[i].ClientConfig.CABundle, ca) {
			mwc.Webhooks[i].ClientConfig.CABundle = ca
			changed = true
		}
	}
	if !changed {
		return nil
	}
	_, err = r.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, mwc, metav1.UpdateOptions{FieldManager: "kntrace"})
	if err == nil {
		r.logger.Infow("wrote the CA into the webhook configuration", "name", conventions.WebhookConfigurationName)
	}
	return err
}
