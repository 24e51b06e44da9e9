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
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	secretinformer "knative.dev/pkg/injection/clients/namespacedkube/informers/core/v1/secret"
	"knative.dev/pkg/leaderelection"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/network/handlers"
	knativetls "knative.dev/pkg/network/tls"
	pkgreconciler "knative.dev/pkg/reconciler"
	"knative.dev/pkg/system"
	knwebhook "knative.dev/pkg/webhook"
	"knative.dev/pkg/webhook/certificates"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

// Names config/ installs.
const (
	// ServiceName is the webhook's Service; knative.dev/pkg issues its
	// certificate for ServiceName.<namespace>.svc.
	ServiceName = "kntrace-webhook"
	// SecretName holds the serving certificate, its key and the CA.
	SecretName = "kntrace-webhook-certs"
)

// Run serves admission and runs the controllers until ctx ends. The
// environment variable SYSTEM_NAMESPACE names kntrace's namespace.
func Run(ctx context.Context, cfg *rest.Config, opts ...Option) error {
	rc := runConfig{address: ":8443", version: "devel", resync: 10 * time.Minute, grace: 5 * time.Second, lease: DefaultLease}
	for _, o := range opts {
		o.apply(&rc)
	}
	if os.Getenv(system.NamespaceEnvKey) == "" {
		return fmt.Errorf("%s is not set: it names kntrace's namespace (%s in config/)", system.NamespaceEnvKey, conventions.SystemNamespace)
	}
	if l := rc.lease; l.RetryPeriod <= 0 || l.RenewDeadline <= l.RetryPeriod || l.Duration <= l.RenewDeadline {
		return fmt.Errorf("lease %v, renew deadline %v, retry period %v: want 0 < retry period < renew deadline < lease duration", l.Duration, l.RenewDeadline, l.RetryPeriod)
	}
	if rc.logger == nil {
		rc.logger, _ = logging.NewLogger("", "info")
	}
	logger := rc.logger
	ctx = logging.WithLogger(ctx, logger)
	ctx = knwebhook.WithOptions(ctx, knwebhook.Options{ServiceName: ServiceName, SecretName: SecretName})

	// knative.dev/pkg's clients and informers: the kube client and the
	// Secret informer of the system namespace that certificates use.
	ctx, pkgInformers := injection.Default.SetupInformers(ctx, cfg)
	kube := kubeclient.Get(ctx)
	// Every replica serves admission; the reconciling half (kntrace's
	// reconciler and knative.dev/pkg's certificates controller, which builds
	// its elector from this context) runs only where the lease is held.
	ctx = leaderelection.WithStandardLeaderElectorBuilder(ctx, kube, leaderelection.ComponentConfig{
		Component: LeaseComponent, Buckets: 1,
		LeaseDuration: rc.lease.Duration, RenewDeadline: rc.lease.RenewDeadline, RetryPeriod: rc.lease.RetryPeriod,
	})
	secrets := secretinformer.Get(ctx)
	certController := certificates.NewController(ctx, configmap.NewStaticWatcher())

	// kntrace's own informers, each scoped as narrowly as RBAC allows.
	nsFactory := informers.NewSharedInformerFactory(kube, rc.resync)
	namespaces := nsFactory.Core().V1().Namespaces()
	sysFactory := informers.NewSharedInformerFactoryWithOptions(kube, rc.resync,
		informers.WithNamespace(system.Namespace()),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", settings.ConfigName).String()
		}))
	kntraceConfig := sysFactory.Core().V1().ConfigMaps()
	factories := []informers.SharedInformerFactory{nsFactory, sysFactory}
	// One informer per Knative ConfigMap, by name: RBAC grants these names
	// only, and a namespace that does not exist (Eventing not installed)
	// lists empty, so the webhook serves on a Serving-only cluster and picks
	// Eventing up when it appears.
	var knativeConfigMaps []cache.SharedIndexInformer
	for _, ns := range KnativeNamespaces {
		for _, name := range ManagedConfigMaps(ns) {
			f := informers.NewSharedInformerFactoryWithOptions(kube, rc.resync, informers.WithNamespace(ns),
				informers.WithTweakListOptions(func(o *metav1.ListOptions) {
					o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
				}))
			factories = append(factories, f)
			knativeConfigMaps = append(knativeConfigMaps, f.Core().V1().ConfigMaps().Informer())
		}
	}

	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "kntrace"})
	store := &configStore{logger: logger}
	if _, err := kntraceConfig.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { store.set(o); queue.Add(keyConverge) },
		UpdateFunc: func(_, o any) { store.set(o); queue.Add(keyConverge) },
		DeleteFunc: func(any) { store.set(nil); queue.Add(keyConverge) },
	}); err != nil {
		return err
	}
	for _, inf := range knativeConfigMaps {
		if _, err := inf.AddEventHandler(controller.HandleAll(func(any) { queue.Add(keyConverge) })); err != nil {
			return err
		}
	}
	if _, err := secrets.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: controller.FilterWithNameAndNamespace(system.Namespace(), SecretName),
		Handler:    controller.HandleAll(func(any) { queue.Add(keyCABundle) }),
	}); err != nil {
		return err
	}

	adm := NewAdmission(store.get, labelsOf(namespaces.Lister()), rc.version)
	// knative.dev/pkg logs every admission request, in full, at info: keep
	// its logger at warn so a busy cluster does not pay for that.
	whCtx := logging.WithLogger(ctx, logger.Desugar().WithOptions(zap.IncreaseLevel(zap.WarnLevel)).Sugar())
	wh, err := knwebhook.New(whCtx, []any{adm})
	if err != nil {
		return err
	}
	tlsConfig, err := knativetls.DefaultConfigFromEnv("WEBHOOK_")
	if err != nil {
		return err
	}
	tlsConfig.GetCertificate = (&certSource{lister: secrets.Lister(), logger: logger}).get
	ln, err := net.Listen("tcp", rc.address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", rc.address, err)
	}
	drainer := &handlers.Drainer{Inner: wh, QuietPeriod: rc.grace}
	server := &http.Server{
		Handler:           drainer,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		// No HTTP/2 (CVE-2023-44487), as knative.dev/pkg does by default.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}

	eg, egCtx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		logger.Infow("serving admission", "address", ln.Addr().String(), "path", AdmissionPath)
		if err := server.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if err := controller.StartInformers(egCtx.Done(), pkgInformers...); err != nil {
		return err
	}
	for _, f := range factories {
		f.Start(egCtx.Done())
	}
	for _, f := range factories {
		for typ, ok := range f.WaitForCacheSync(egCtx.Done()) {
			if !ok {
				return fmt.Errorf("informer for %v did not sync", typ)
			}
		}
	}
	wh.InformersHaveSynced()
	logger.Info("informers synced; admitting")

	eg.Go(func() error { return certController.RunContext(egCtx, 1) })
	leader := &pkgreconciler.LeaderAwareFuncs{
		// Promoted: reconcile everything at once, as the last leader may
		// have died between an event and its write.
		PromoteFunc: func(pkgreconciler.Bucket, func(pkgreconciler.Bucket, types.NamespacedName)) error {
			queue.Add(keyConverge)
			queue.Add(keyCABundle)
			return nil
		},
	}
	elector, err := leaderelection.BuildElector(egCtx, leader, reconcilerQueue, func(_ pkgreconciler.Bucket, key types.NamespacedName) { queue.Add(key.Name) })
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	eg.Go(func() error {
		elector.Run(egCtx)
		return nil
	})
	eg.Go(func() error {
		r := &reconciler{kube: kube, secrets: secrets.Lister(), store: store, converger: NewConverger(kube), logger: logger, leader: leader}
		r.run(egCtx, queue, rc.resync)
		return nil
	})
	eg.Go(func() error {
		<-egCtx.Done()
		queue.ShutDown()
		drainer.Drain()
		sctx, cancel := context.WithTimeout(context.Background(), rc.grace)
		defer cancel()
		return server.Shutdown(sctx)
	})
	err = eg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}
