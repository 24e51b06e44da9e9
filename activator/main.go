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

package activator

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/kelseyhightower/envconfig"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelglobal "go.opentelemetry.io/otel"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"

	netcfg "knative.dev/networking/pkg/config"
	netprobe "knative.dev/networking/pkg/http/probe"
	kubeclient "knative.dev/pkg/client/injection/kube/client"
	endpointsinformer "knative.dev/pkg/client/injection/kube/informers/core/v1/endpoints"
	configmapinformer "knative.dev/pkg/configmap/informer"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/injection"
	"knative.dev/pkg/injection/sharedmain"
	pkglogging "knative.dev/pkg/logging"
	"knative.dev/pkg/logging/logkey"
	pkgnet "knative.dev/pkg/network"
	knativetls "knative.dev/pkg/network/tls"
	k8sruntime "knative.dev/pkg/observability/runtime/k8s"
	"knative.dev/pkg/signals"
	"knative.dev/pkg/system"
	"knative.dev/pkg/version"
	"knative.dev/pkg/websocket"
	knactivator "knative.dev/serving/pkg/activator"
	"knative.dev/serving/pkg/activator/certificate"
	activatorconfig "knative.dev/serving/pkg/activator/config"
	activatorhandler "knative.dev/serving/pkg/activator/handler"
	activatornet "knative.dev/serving/pkg/activator/net"
	apiconfig "knative.dev/serving/pkg/apis/config"
	asmetrics "knative.dev/serving/pkg/autoscaler/metrics"
	pkghttp "knative.dev/serving/pkg/http"
	"knative.dev/serving/pkg/http/handler"
	"knative.dev/serving/pkg/logging"
	"knative.dev/serving/pkg/networking"
	o11yconfigmap "knative.dev/serving/pkg/observability/configmap"
	"knative.dev/serving/pkg/observability/otel"

	"github.com/kntrace/kntrace/activatorhooks"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/propagation"
)

// component names the activator in logs and telemetry, as upstream.
const component = "activator"

// autoscalerPort is where the autoscaler's stat websocket listens.
const autoscalerPort = ":8080"

// env is the activator's environment, parsed as upstream parses it.
type env struct {
	PodName string `split_words:"true" required:"true"`
	PodIP   string `split_words:"true" required:"true"`

	MaxIdleProxyConns        int `split_words:"true" default:"1000"`
	MaxIdleProxyConnsPerHost int `split_words:"true" default:"100"`

	ProbeTimeout   string `split_words:"true" default:"300ms"`
	ProbeFrequency string `split_words:"true" default:"200ms"`
}

// Main runs the activator until SIGTERM (or SIGINT) and the drain that
// follows. It returns an error when the activator cannot start or a server
// fails.
func Main() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	restCfg := injection.ParseAndGetRESTConfigOrDie()
	log.Printf("Registering %d clients", len(injection.Default.GetClients()))
	log.Printf("Registering %d informer factories", len(injection.Default.GetInformerFactories()))
	log.Printf("Registering %d informers", len(injection.Default.GetInformers()))
	ctx, informers := injection.Default.SetupInformers(ctx, restCfg)

	var e env
	if err := envconfig.Process("", &e); err != nil {
		return fmt.Errorf("failed to process env: %w", err)
	}

	kubeClient := kubeclient.Get(ctx)
	if err := waitForKubernetes(ctx, kubeClient.Discovery()); err != nil {
		return err
	}

	loggingConfig, err := sharedmain.GetLoggingConfig(ctx)
	if err != nil {
		return fmt.Errorf("error loading/parsing logging configuration: %w", err)
	}
	logger, atomicLevel := pkglogging.NewLoggerFromConfig(loggingConfig, component)
	logger = logger.With(zap.String(logkey.ControllerType, component), zap.String(logkey.Pod, e.PodName))
	ctx = pkglogging.WithLogger(ctx, logger)
	defer flush(logger)

	// kntrace: parent-based sampling. Knative's sampler ignores the
	// caller's decision at rates 0 and 1; it defers to the SDK (which reads
	// these variables) when OTEL_TRACES_SAMPLER is set.
	o11y, err := otel.GetObservabilityConfig(ctx)
	if err != nil {
		return fmt.Errorf("error loading observability configuration: %w", err)
	}
	if err := setSamplerEnv(o11y.Tracing.SamplingRate, os.Getenv, os.Setenv); err != nil {
		return err
	}

	pprof := k8sruntime.NewProfilingServer(logger.Named("pprof"))
	mp, upstreamTP := otel.SetupObservabilityOrDie(ctx, component, logger, pprof)
	// kntrace: the tracer provider Knative builds from config-observability,
	// with a sampler that keeps every request that waits for a cold start
	// and honours a decision sent without trace IDs, and a span buffer that
	// holds spans while the collector is down (newTracerProvider).
	_ = upstreamTP.Shutdown(ctx)
	tp, err := newTracerProvider(ctx, o11y)
	if err != nil {
		return err
	}
	otelglobal.SetTracerProvider(tp)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := mp.Shutdown(ctx); err != nil {
			logger.Errorw("Error flushing metrics", zap.Error(err))
		}
		if err := tp.Shutdown(ctx); err != nil {
			logger.Errorw("Error flushing traces", zap.Error(err))
		}
	}()

	// kntrace: the hooks, and the bridge as the global propagator, so the
	// otelhttp transport activatorhandler.New builds writes the configured
	// formats.
	prop, err := propagatorFromEnv()
	if err != nil {
		return err
	}
	hookOpts := []activatorhooks.Option{
		activatorhooks.WithTracerProvider(tp),
		activatorhooks.WithMeterProvider(mp),
		activatorhooks.WithPropagator(prop),
		activatorhooks.WithReadyBackends(activatorhooks.EndpointsReadyBackends(endpointsinformer.Get(ctx).Lister())),
		activatorhooks.WithErrorHandler(func(err error) {
			logger.Warnw("Cannot read a pod's cold-start timeline; its cold-start phases are not recorded (this is logged once)", zap.Error(err))
		}),
	}
	// kntrace: cold-start reports to the podstart service, which adds the
	// Kubernetes phases. A bad address costs those phases, never a request.
	if base := os.Getenv(conventions.EnvPodstart); base != "" {
		rep, err := newReporter(base, func(err error) {
			logger.Warnw("Cannot report a cold start to kntrace's podstart service; its Kubernetes phases are not recorded (this is logged once)", zap.Error(err))
		})
		if err != nil {
			logger.Errorw("Cold starts are recorded without their Kubernetes phases", zap.Error(err))
		} else {
			go rep.run(ctx)
			hookOpts = append(hookOpts, activatorhooks.WithColdStartReports(rep.Report))
		}
	}
	hooks := activatorhooks.New(hookOpts...)
	otelglobal.SetTextMapPropagator(hooks.Propagator())

	// Informers are run rather than started from their factories, so that
	// syncing does not hang on an informer without handlers.
	if err := controller.StartInformers(ctx.Done(), informers...); err != nil {
		return fmt.Errorf("failed to start informers: %w", err)
	}
	logger.Info("Starting the knative activator (kntrace build)")

	// One transport for the throttler's probes and the proxy, so that a
	// probe's connection is reused by the first request.
	logger.Debugf("MaxIdleProxyConns: %d, MaxIdleProxyConnsPerHost: %d, ProbeTimeout: %s, ProbeFrequency: %s",
		e.MaxIdleProxyConns, e.MaxIdleProxyConnsPerHost, e.ProbeTimeout, e.ProbeFrequency)
	transport := pkgnet.NewProxyAutoTransport(e.MaxIdleProxyConns, e.MaxIdleProxyConnsPerHost)

	networkCM, err := kubeClient.CoreV1().ConfigMaps(system.Namespace()).Get(ctx, netcfg.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("failed to fetch network config: %w", err)
	}
	networkConfig, err := netcfg.NewConfigFromConfigMap(networkCM)
	if err != nil {
		return fmt.Errorf("failed to construct network config: %w", err)
	}

	// With system-internal-tls the activator talks TLS to queue-proxies and
	// also serves TLS (HTTP stays on, as upstream).
	tlsEnabled := networkConfig.SystemInternalTLSEnabled()
	var certCache *certificate.CertCache
	if tlsEnabled {
		logger.Info("Knative system-internal-tls is enabled")
		certCache, err = certificate.NewCertCache(ctx)
		if err != nil {
			return fmt.Errorf("failed to create certificate cache: %w", err)
		}
		transport = pkgnet.NewProxyAutoTLSTransport(e.MaxIdleProxyConns, e.MaxIdleProxyConnsPerHost, certCache.TLSContext())
	}

	probeTimeout, err := time.ParseDuration(e.ProbeTimeout)
	if err != nil {
		return fmt.Errorf("failed to parse PROBE_TIMEOUT %q: %w", e.ProbeTimeout, err)
	}
	probeFrequency, err := time.ParseDuration(e.ProbeFrequency)
	if err != nil {
		return fmt.Errorf("failed to parse PROBE_FREQUENCY %q: %w", e.ProbeFrequency, err)
	}
	activatornet.SetProbeSettings(probeTimeout, probeFrequency)

	throttler := activatornet.NewThrottler(ctx, e.PodIP)
	go throttler.Run(ctx, transport, networkConfig.EnableMeshPodAddressability, networkConfig.MeshCompatibilityMode)

	configMapWatcher := configmapinformer.NewInformedWatcher(kubeClient, system.Namespace())
	configStore := activatorconfig.NewStore(logger)
	configStore.WatchConfigs(configMapWatcher)

	statCh := make(chan []asmetrics.StatMessage)
	defer close(statCh)

	autoscalerEndpoint := "ws://" + pkgnet.GetServiceHostname("autoscaler", system.Namespace()) + autoscalerPort
	logger.Info("Connecting to Autoscaler at ", autoscalerEndpoint)
	statSink := websocket.NewDurableSendingConnection(autoscalerEndpoint, logger,
		knactivator.AutoscalerConnectionOptions(logger, mp)...)
	defer statSink.Shutdown()
	go knactivator.ReportStats(logger, statSink, statCh)

	concurrencyReporter := activatorhandler.NewConcurrencyReporter(ctx, e.PodName, statCh, mp)
	go concurrencyReporter.Run(ctx.Done())

	// The handler chain, innermost first, as upstream builds it; kntrace
	// wraps the throttler, the transport and the request-span handler.
	ah := activatorhandler.New(ctx, hooks.Throttler(throttler), hooks.Transport(transport),
		networkConfig.EnableMeshPodAddressability, logger, tlsEnabled, tp, mp)
	ah = handler.NewTimeoutHandler(ah, "activator request timeout", revisionTimeouts, logger)
	ah = concurrencyReporter.Handler(ah)
	ah = activatorhandler.NewTracingAttributeHandler(tp, ah)
	reqLogHandler, err := pkghttp.NewRequestLogHandler(ah, logging.NewSyncFileWriter(os.Stdout), "",
		requestLogTemplateInput, false /*enableProbeRequestLog*/)
	if err != nil {
		return fmt.Errorf("unable to create request log handler: %w", err)
	}
	ah = reqLogHandler
	// Metrics exclude health checks and probes: outermost of the request path.
	ah = activatorhandler.NewMetricAttributeHandler(e.PodName, ah)
	ah = activatorhandler.WrapActivatorHandlerWithFullDuplex(ah, logger)
	// The context handler puts the revision in the context first.
	ah = activatorhandler.NewContextHandler(ctx, ah, configStore)
	ah = hooks.ServerHandler(ah, "handle",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(mp),
	)
	ah = &activatorhandler.ProbeHandler{NextHandler: ah}
	ah = netprobe.NewHandler(ah)
	sigCtx := signals.NewContext()
	ah = &activatorhandler.HealthHandler{HealthCheck: healthCheck(sigCtx, logger, statSink), NextHandler: ah, Logger: logger}

	configMapWatcher.Watch(pkglogging.ConfigMapName(), pkglogging.UpdateLevelFromConfigMap(logger, atomicLevel, component))
	configMapWatcher.Watch(o11yconfigmap.Name(), requestLogUpdater(logger, reqLogHandler), pprof.UpdateFromConfigMap)
	if err := configMapWatcher.Start(ctx.Done()); err != nil {
		return fmt.Errorf("failed to start configuration manager: %w", err)
	}

	servers := map[string]*http.Server{
		"http1":   pkgnet.NewServer(":"+strconv.Itoa(networking.BackendHTTPPort), ah),
		"h2c":     pkgnet.NewServer(":"+strconv.Itoa(networking.BackendHTTP2Port), ah),
		"profile": pprof.Server,
	}
	errCh := make(chan error, len(servers)+1)
	for name, s := range servers {
		go func() {
			if err := s.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errCh <- fmt.Errorf("%s server failed: %w", name, err)
			}
		}()
	}
	if tlsEnabled {
		tlsCfg, err := knativetls.DefaultConfigFromEnv("ACTIVATOR_")
		if err != nil {
			return fmt.Errorf("failed to read TLS configuration from environment: %w", err)
		}
		tlsCfg.GetCertificate = certCache.GetCertificate
		s := pkgnet.NewServer(":"+strconv.Itoa(networking.BackendHTTPSPort), ah)
		s.TLSConfig = tlsCfg
		servers["https"] = s
		go func() {
			if err := s.ListenAndServeTLS("", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errCh <- fmt.Errorf("https server failed: %w", err)
			}
		}()
	}

	// A failed server is logged and drained like SIGTERM, and the process
	// exits 0, as upstream's does.
	select {
	case <-sigCtx.Done():
		logger.Info("Received SIGTERM")
	case err := <-errCh:
		logger.Errorw("Failed to run HTTP server", zap.Error(err))
	}

	// Readiness now fails; give the endpoints time to drop this pod before
	// draining.
	logger.Infof("Sleeping %v to allow K8s propagation of non-ready state", pkgnet.DefaultDrainTimeout)
	time.Sleep(pkgnet.DefaultDrainTimeout)
	logger.Info("Done waiting, shutting down servers.")
	for _, s := range servers {
		s.Shutdown(context.Background())
	}
	logger.Info("Servers shutdown.")
	return nil
}

// waitForKubernetes polls the API server's version for up to a minute: the
// activator may start before the API server is reachable.
func waitForKubernetes(ctx context.Context, d discovery.ServerVersionInterface) error {
	var err error
	if perr := wait.PollUntilContextTimeout(ctx, time.Second, 60*time.Second, true, func(context.Context) (bool, error) {
		if err = version.CheckMinimumVersion(d); err != nil {
			log.Print("Failed to get k8s version ", err)
		}
		return err == nil, nil
	}); perr != nil {
		return fmt.Errorf("timed out attempting to get k8s version: %w", err)
	}
	return nil
}

// setSamplerEnv sets OTEL_TRACES_SAMPLER(_ARG) to parent-based sampling at
// config-observability's tracing-sampling-rate by the rule every kntrace
// component follows (conventions.SamplerEnv): what the operator set wins.
func setSamplerEnv(rate float64, getenv func(string) string, setenv func(string, string) error) error {
	for k, v := range conventions.SamplerEnv(rate, getenv) {
		if err := setenv(k, v); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	return nil
}

// propagatorFromEnv is the bridge the activator extracts and injects with:
// it reads every format kntrace knows (W3C first) and writes the formats
// OTEL_PROPAGATORS lists (W3C tracecontext and baggage when it is unset).
func propagatorFromEnv() (*propagation.Propagator, error) {
	return propagation.FromEnv(propagation.WithExtractOrder(propagation.DefaultExtractOrder()...))
}

// revisionTimeouts are the request, response-start and idle timeouts of the
// request's revision (Knative's defaults without one).
func revisionTimeouts(r *http.Request) (time.Duration, time.Duration, time.Duration) {
	rev := activatorhandler.RevisionFrom(r.Context())
	if rev == nil {
		return apiconfig.DefaultRevisionTimeoutSeconds * time.Second,
			apiconfig.DefaultRevisionResponseStartTimeoutSeconds * time.Second,
			apiconfig.DefaultRevisionIdleTimeoutSeconds * time.Second
	}
	var responseStart, idle time.Duration
	if s := rev.Spec.ResponseStartTimeoutSeconds; s != nil {
		responseStart = time.Duration(*s) * time.Second
	}
	if s := rev.Spec.IdleTimeoutSeconds; s != nil {
		idle = time.Duration(*s) * time.Second
	}
	return time.Duration(*rev.Spec.TimeoutSeconds) * time.Second, responseStart, idle
}

// healthCheck fails once SIGTERM arrived (so readiness drops during the
// drain) and otherwise reports the autoscaler connection's status.
func healthCheck(sigCtx context.Context, logger *zap.SugaredLogger, statSink *websocket.ManagedConnection) func() error {
	var once sync.Once
	return func() error {
		select {
		case <-sigCtx.Done():
			once.Do(func() { logger.Info("Signal context canceled") })
			return errors.New("received SIGTERM from kubelet")
		default:
			logger.Debug("No signal yet.")
			return statSink.Status()
		}
	}
}

func flush(logger *zap.SugaredLogger) {
	_ = logger.Sync()
	_ = os.Stdout.Sync()
	_ = os.Stderr.Sync()
}
