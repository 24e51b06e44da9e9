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
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	"knative.dev/pkg/configmap"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	secretinformer "knative.dev/pkg/injection/clients/namespacedkube/informers/core/v1/secret"
	"knative.dev/pkg/logging"
	"knative.dev/pkg/network/handlers"
	knativetls "knative.dev/pkg/network/tls"
	"knative.dev/pkg/system"
	knwebhook "knative.dev/pkg/webhook"
	"knative.dev/pkg/webhook/certificates"
	certresources "knative.dev/pkg/webhook/certificates/resources"

	"github.com/kntrace/kntrace/revisions"
)

// Names config/ installs.
const (
	// ServiceName is the webhook's Service; knative.dev/pkg issues its
	// certificate for ServiceName.<namespace>.svc.
	ServiceName = "kntrace-webhook"
	// SecretName holds the serving certificate, its key and the CA.
	SecretName = "kntrace-webhook-certs"
)

type runConfig struct {
	address string
	version string
	logger  *zap.SugaredLogger
	resync  time.Duration
	grace   time.Duration
}

// Option configures Run.
type Option interface{ apply(*runConfig) }

type runOptionFunc func(*runConfig)

func (f runOptionFunc) apply(c *runConfig) { f(c) }

// WithAddress is the TLS listen address; default ":8443".
func WithAddress(addr string) Option { return runOptionFunc(func(c *runConfig) { c.address = addr }) }

// WithVersion is the kntrace version recorded in injected resource
// attributes; default "devel".
func WithVersion(v string) Option { return runOptionFunc(func(c *runConfig) { c.version = v }) }

// WithLogger sets the logger; default a production zap logger at info.
func WithLogger(l *zap.SugaredLogger) Option {
	return runOptionFunc(func(c *runConfig) { c.logger = l })
}

// WithResync is how often the controller converges Knative's ConfigMaps
// and the caBundle even without an event; default 10 minutes.
func WithResync(d time.Duration) Option { return runOptionFunc(func(c *runConfig) { c.resync = d }) }

// WithGracePeriod is how long the server drains at shutdown; default 5s.
func WithGracePeriod(d time.Duration) Option {
	return runOptionFunc(func(c *runConfig) { c.grace = d })
}

// Work queue keys.
const (
	keyConverge = "converge"
	keyCABundle = "cabundle"
)

// Run serves admission and runs the controllers until ctx ends. The
// environment variable SYSTEM_NAMESPACE names kntrace's namespace.
func Run(ctx context.Context, cfg *rest.Config, opts ...Option) error {
	rc := runConfig{address: ":8443", version: "devel", resync: 10 * time.Minute, grace: 5 * time.Second}
	for _, o := range opts {
		o.apply(&rc)
	}
	if os.Getenv(system.NamespaceEnvKey) == "" {
		return fmt.Errorf("%s is not set: it names kntrace's namespace (%s in config/)", system.NamespaceEnvKey, revisions.SystemNamespace)
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
	secrets := secretinformer.Get(ctx)
	certController := certificates.NewController(ctx, configmap.NewStaticWatcher())

	// kntrace's own informers, each scoped as narrowly as RBAC allows.
	nsFactory := informers.NewSharedInformerFactory(kube, rc.resync)
	namespaces := nsFactory.Core().V1().Namespaces()
	sysFactory := informers.NewSharedInformerFactoryWithOptions(kube, rc.resync,
		informers.WithNamespace(system.Namespace()),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", revisions.ConfigName).String()
		}))
	kntraceConfig := sysFactory.Core().V1().ConfigMaps()
	factories := []informers.SharedInformerFactory{nsFactory, sysFactory}
	var knativeConfigMaps []cache.SharedIndexInformer
	for _, ns := range KnativeNamespaces {
		f := informers.NewSharedInformerFactoryWithOptions(kube, rc.resync, informers.WithNamespace(ns))
		factories = append(factories, f)
		knativeConfigMaps = append(knativeConfigMaps, f.Core().V1().ConfigMaps().Informer())
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
		if _, err := inf.AddEventHandler(cache.FilteringResourceEventHandler{
			FilterFunc: func(o any) bool {
				cm, ok := o.(*corev1.ConfigMap)
				if !ok {
					return true // a tombstone
				}
				switch cm.Name {
				case "config-observability", "config-tracing", FeaturesConfigName, DeploymentConfigName:
					return true
				}
				return false
			},
			Handler: controller.HandleAll(func(any) { queue.Add(keyConverge) }),
		}); err != nil {
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
	eg.Go(func() error {
		r := &reconciler{kube: kube, secrets: secrets.Lister(), store: store, converger: NewConverger(kube), logger: logger}
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

// configStore holds the last valid config-kntrace.
type configStore struct {
	logger *zap.SugaredLogger
	cfg    atomic.Pointer[revisions.Config]
	// present is false while config-kntrace does not exist.
	present atomic.Bool
}

func (s *configStore) set(o any) {
	cm, _ := o.(*corev1.ConfigMap)
	if cm == nil {
		s.present.Store(false)
		s.cfg.Store(nil)
		return
	}
	cfg, err := revisions.NewConfigFromConfigMap(cm)
	if err != nil {
		s.logger.Errorw("invalid "+revisions.ConfigName+"; keeping the last valid one", zap.Error(err))
		return
	}
	s.present.Store(true)
	s.cfg.Store(cfg)
}

func (s *configStore) get() *revisions.Config {
	if c := s.cfg.Load(); c != nil {
		return c
	}
	return revisions.DefaultConfig()
}

func labelsOf(l corelisters.NamespaceLister) func(string) map[string]string {
	return func(ns string) map[string]string {
		n, err := l.Get(ns)
		if err != nil {
			return nil
		}
		return n.Labels
	}
}

// certSource serves the certificate in SecretName, parsed once per version.
type certSource struct {
	lister corelisters.SecretLister
	logger *zap.SugaredLogger

	mu      sync.Mutex
	version string
	cert    *tls.Certificate
}

func (c *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s, err := c.lister.Secrets(system.Namespace()).Get(SecretName)
	if err != nil {
		c.logger.Errorw("no serving certificate", zap.Error(err))
		return nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil && c.version == s.ResourceVersion {
		return c.cert, nil
	}
	cert, err := tls.X509KeyPair(s.Data[certresources.ServerCert], s.Data[certresources.ServerKey])
	if err != nil {
		c.logger.Errorw("serving certificate not usable yet", zap.Error(err))
		return nil, nil
	}
	c.cert, c.version = &cert, s.ResourceVersion
	return c.cert, nil
}

// reconciler runs the work queue: converging Knative's ConfigMaps and
// writing the CA into the MutatingWebhookConfiguration.
type reconciler struct {
	kube      kubernetes.Interface
	secrets   corelisters.SecretLister
	store     *configStore
	converger *Converger
	logger    *zap.SugaredLogger
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
		r.logger.Infof("%s/%s not found: leaving Knative's ConfigMaps alone", system.Namespace(), revisions.ConfigName)
		return nil
	}
	writes, err := r.converger.Converge(ctx, r.store.get())
	for _, w := range writes {
		r.logger.Infow("converged a Knative ConfigMap", "namespace", w.Namespace, "name", w.Name, "keys", w.Keys)
	}
	return err
}

// caBundle writes the CA of SecretName into every webhook of
// revisions.WebhookConfigurationName that does not carry it yet.
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
	mwc, err := r.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, revisions.WebhookConfigurationName, metav1.GetOptions{})
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
		r.logger.Infow("wrote the CA into the webhook configuration", "name", revisions.WebhookConfigurationName)
	}
	return err
}
