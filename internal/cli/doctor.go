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
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/jaeger"
	"github.com/kntrace/kntrace/revisions"
)

// Names of kntrace's install (config/500-webhook.yaml) that doctor looks for.
const (
	// SystemNamespace is where config/ installs kntrace.
	SystemNamespace = revisions.SystemNamespace
	// WebhookConfigName is the MutatingWebhookConfiguration's name.
	WebhookConfigName = "kntrace.webhook.kntrace.dev"
	// WebhookDeployment runs the webhook in SystemNamespace.
	WebhookDeployment = "kntrace-webhook"
	// InjectAnnotation on a Knative Service ("true") or InjectLabel on a
	// namespace ("enabled") asks the webhook to inject the OTel env.
	InjectAnnotation = revisions.InjectAnnotation
	InjectLabel      = revisions.NamespaceLabel
	// InjectedEnv is the variable the webhook adds to every container.
	InjectedEnv = revisions.EnvEndpoint
	// doctorProbeService is the name of the Service doctor creates with
	// dryRun=All to see the webhook answer; nothing is stored.
	doctorProbeService = "kntrace-doctor-probe"
)

// CheckStatus is the outcome of one doctor check.
type CheckStatus string

// Check outcomes.
const (
	StatusPass CheckStatus = "pass"
	StatusWarn CheckStatus = "warn"
	StatusFail CheckStatus = "fail"
)

// DoctorCheck is one line of `kn trace doctor`.
type DoctorCheck struct {
	Name    string      `json:"name"`
	Status  CheckStatus `json:"status"`
	Message string      `json:"message"`
	Fix     string      `json:"fix,omitempty"`
}

// DoctorReport is what `kn trace doctor -o json|yaml` prints.
type DoctorReport struct {
	Checks   []DoctorCheck `json:"checks"`
	Passed   int           `json:"passed"`
	Warnings int           `json:"warnings"`
	Failures int           `json:"failures"`
}

func (r *DoctorReport) add(name string, st CheckStatus, fix string, format string, args ...any) {
	r.Checks = append(r.Checks, DoctorCheck{Name: name, Status: st, Message: fmt.Sprintf(format, args...), Fix: fix})
	switch st {
	case StatusPass:
		r.Passed++
	case StatusWarn:
		r.Warnings++
	case StatusFail:
		r.Failures++
	}
}

type doctorFlags struct {
	jaegerFlags
	namespace string
	collector string
	output    string
	shape     string
}

func newDoctorCommand(g *globals) *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Diagnose Knative's tracing setup, the collector, Jaeger and kntrace",
		Long: `Check everything a trace depends on and print one pass/warn/fail line per
check, each failure with its fix:

  - the Knative version and which ConfigMap shape it reads (config-observability
    since 1.19, config-tracing before)
  - every tracing configuration hazard (an endpoint that crash-loops Knative, a
    scheme-less endpoint that silently becomes https, a protocol with rate 0, a
    gRPC/HTTP path mismatch, legacy keys Knative ignores)
  - OTEL_TRACES_SAMPLER_ARG without OTEL_TRACES_SAMPLER on Knative's Deployments
    (a failure) and on Services' containers (a warning)
  - the collector (from config-observability's endpoint, or --collector) and
    Jaeger (--jaeger) answer
  - kntrace's webhook is installed, ready and answering (a dry-run Service)
  - kntrace's queue-proxy and activator are installed
  - Services asking for injection (` + InjectAnnotation + `: "true") whose template lacks
    ` + InjectedEnv + ` (the webhook was not running when they were applied)
  - config-features queueproxy.mount-podinfo

Exit status 4 when any check fails.`,
		Example: `  kn trace doctor
  # Services of one namespace only, with a port-forwarded collector and Jaeger
  kn trace doctor -n demo --collector 127.0.0.1:4317 --jaeger 127.0.0.1:16685
  kn trace doctor -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := parseOutput(f.output)
			if err != nil {
				return err
			}
			if f.timeout <= 0 {
				return usageError("--timeout %v: want a positive duration", f.timeout)
			}
			if _, err := configmaps.ParseShape(f.shape); err != nil {
				return usageError("--%v", err)
			}
			cfg, err := g.restConfig()
			if err != nil {
				return err
			}
			kube, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			serving, err := servingclient.NewForConfig(cfg)
			if err != nil {
				return err
			}
			d := &doctor{kube: kube, serving: serving, flags: &f, report: &DoctorReport{}}
			d.run(cmd.Context())
			if format != "" {
				if err := writeStructured(g.streams.Out, format, d.report); err != nil {
					return err
				}
			} else {
				printReport(g.streams.Out, d.report)
			}
			if d.report.Failures > 0 {
				return &ExitError{Code: ExitDiagnose, Err: fmt.Errorf("%d of %d checks failed", d.report.Failures, len(d.report.Checks))}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace of the Services to check, and of the webhook's dry-run probe (default: Services of all namespaces, probe in default)")
	cmd.Flags().StringVar(&f.collector, "collector", "", "collector endpoint to probe (URL or host:port; default: config-observability's tracing-endpoint)")
	cmd.Flags().StringVar(&f.shape, "shape", "auto", "which ConfigMap Knative reads: auto (from the installed version), observability (config-observability, 1.19+) or legacy (config-tracing)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: json or yaml")
	return cmd
}

func printReport(w io.Writer, r *DoctorReport) {
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-4s  %s: %s\n", strings.ToUpper(string(c.Status)), c.Name, c.Message)
		if c.Fix != "" && c.Status != StatusPass {
			fmt.Fprintf(w, "      fix: %s\n", c.Fix)
		}
	}
	fmt.Fprintf(w, "\n%d passed, %d warnings, %d failed\n", r.Passed, r.Warnings, r.Failures)
}

type doctor struct {
	kube    kubernetes.Interface
	serving servingclient.Interface
	flags   *doctorFlags
	report  *DoctorReport

	installed  map[string]bool
	statuses   map[string]*configmaps.Status
	webhookURL bool
}

func (d *doctor) run(ctx context.Context) {
	d.knative(ctx)
	d.samplerEnv(ctx)
	d.collector(ctx)
	d.jaeger(ctx)
	d.webhook(ctx)
	d.dataPlane(ctx)
	d.services(ctx)
	d.podInfo(ctx)
}

// knative reports the version, the shape and every configuration hazard.
func (d *doctor) knative(ctx context.Context) {
	d.installed, d.statuses = map[string]bool{}, map[string]*configmaps.Status{}
	var opts []configmaps.ClientOption
	if shape, _ := configmaps.ParseShape(d.flags.shape); shape != "" {
		opts = append(opts, configmaps.WithShape(shape))
	}
	c := configmaps.NewClient(d.kube, opts...)
	for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
		name := "knative/" + ns
		if _, err := d.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			d.report.add(name, StatusWarn, "", "not installed (no namespace %s): skipped", ns)
			continue
		} else if err != nil {
			d.report.add(name, StatusFail, "check --kubeconfig/--context and that you may read namespaces", "cannot read namespace %s: %v", ns, err)
			continue
		}
		d.installed[ns] = true
		st, err := c.Show(ctx, ns)
		if err != nil {
			d.report.add(name, StatusFail, "pass the right cluster; --shape observability|legacy forces a shape", "%v", err)
			continue
		}
		d.statuses[ns] = st
		version := st.KnativeVersion
		if version == "" {
			version = "version unknown"
		} else {
			version = "Knative " + version
		}
		d.report.add(name, StatusPass, "", "%s, reads %s (%s)", version, st.ConfigMap, st.Reason)
		cfgName := "config/" + ns + "/" + st.ConfigMap
		for _, p := range st.Problems {
			status := StatusWarn
			if p.Severity == configmaps.SeverityError {
				status = StatusFail
			}
			msg := p.Message
			if p.Key != "" {
				msg = fmt.Sprintf("%s %q %s", p.Key, p.Value, p.Message)
			}
			d.report.add(cfgName, status, p.Fix, "%s", msg)
		}
		if len(configmaps.Errors(st.Problems)) > 0 {
			continue
		}
		switch {
		case st.Observability != nil && (st.Observability.Protocol == configmaps.ProtocolGRPC || st.Observability.Protocol == configmaps.ProtocolHTTPProtobuf):
			d.report.add(cfgName, StatusPass, "", "exports %s to %s, sampling rate %g", st.Observability.Protocol, st.Observability.Endpoint, st.Observability.SamplingRate)
		case st.Legacy != nil && st.Legacy.Backend == configmaps.BackendZipkin:
			d.report.add(cfgName, StatusPass, "", "exports zipkin to %s, sample rate %g", st.Legacy.ZipkinEndpoint, st.Legacy.SampleRate)
		default:
			d.report.add(cfgName, StatusWarn, "kn trace config set --protocol grpc --endpoint http://otel-collector."+SystemNamespace+":4317 --sampling-rate 0.1",
				"tracing is off: %s exports nothing", ns)
		}
	}
	if len(d.installed) == 0 {
		d.report.add("knative", StatusFail, "install Knative Serving or Eventing, or point --kubeconfig/--context at the cluster that runs it",
			"neither %s nor %s exists", configmaps.ServingNamespace, configmaps.EventingNamespace)
	}
}

// samplerEnv: OTEL_TRACES_SAMPLER_ARG alone takes part only in knative.dev/pkg's
// ">= 1" test; the ratio still comes from the ConfigMap.
func (d *doctor) samplerEnv(ctx context.Context) {
	const name = "env/OTEL_TRACES_SAMPLER"
	checked := 0
	found := false
	for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
		if !d.installed[ns] {
			continue
		}
		deps, err := d.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			d.report.add(name, StatusFail, "you need list access to deployments in "+ns, "cannot list deployments in %s: %v", ns, err)
			continue
		}
		for _, dep := range deps.Items {
			checked++
			for _, c := range slices.Concat(dep.Spec.Template.Spec.InitContainers, dep.Spec.Template.Spec.Containers) {
				arg, hasArg := envValue(c.Env, "OTEL_TRACES_SAMPLER_ARG")
				if _, hasSampler := envValue(c.Env, "OTEL_TRACES_SAMPLER"); !hasArg || hasSampler {
					continue
				}
				found = true
				d.report.add(name, StatusFail,
					fmt.Sprintf("kubectl -n %s set env deployment/%s -c %s OTEL_TRACES_SAMPLER=parentbased_traceidratio (or remove OTEL_TRACES_SAMPLER_ARG)", ns, dep.Name, c.Name),
					"deployment %s/%s container %s sets OTEL_TRACES_SAMPLER_ARG=%q without OTEL_TRACES_SAMPLER: Knative then uses the ARG only to test for >= 1 and still samples at config-observability's rate, without honouring the parent's decision",
					ns, dep.Name, c.Name, arg)
			}
		}
	}
	if !found && checked > 0 {
		d.report.add(name, StatusPass, "", "no Knative Deployment sets OTEL_TRACES_SAMPLER_ARG without OTEL_TRACES_SAMPLER (%d checked)", checked)
	}
}

func envValue(env []corev1.EnvVar, name string) (string, bool) {
	for _, e := range env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// collector probes the collector the configuration names (or --collector).
func (d *doctor) collector(ctx context.Context) {
	const name = "collector"
	endpoint, protocol, source := d.flags.collector, "", "--collector"
	if endpoint == "" {
		for _, ns := range []string{configmaps.ServingNamespace, configmaps.EventingNamespace} {
			st := d.statuses[ns]
			if st == nil || st.Observability == nil || st.Observability.Endpoint == "" || len(configmaps.Errors(st.Problems)) > 0 {
				continue
			}
			endpoint, protocol, source = st.Observability.Endpoint, st.Observability.Protocol, ns+"/"+st.ConfigMap
			break
		}
	}
	if endpoint == "" {
		d.report.add(name, StatusWarn, "configure an endpoint (kn trace config set) or pass --collector HOST:PORT", "no usable collector endpoint configured: not probed")
		return
	}
	u, hostport, err := collectorAddress(endpoint, protocol)
	if err != nil {
		d.report.add(name, StatusFail, "pass --collector as a URL (http://HOST:4317) or HOST:PORT", "%s (from %s): %v", endpoint, source, err)
		return
	}
	host, _, _ := net.SplitHostPort(hostport)
	if clusterOnly(host) {
		if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
			d.report.add(name, StatusWarn, "kubectl port-forward the collector's Service and pass --collector 127.0.0.1:PORT",
				"%s (from %s) resolves only inside the cluster: not probed from here", endpoint, source)
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.flags.timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", hostport)
	if err != nil {
		d.report.add(name, StatusFail, "start the collector or fix the endpoint; from outside the cluster port-forward it and pass --collector",
			"%s (from %s) is not reachable: %v", hostport, source, err)
		return
	}
	conn.Close()
	if u != nil && protocol == configmaps.ProtocolHTTPProtobuf {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(nil))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-protobuf")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				d.report.add(name, StatusFail, "check the scheme (http vs https) and that the collector's OTLP/HTTP receiver listens there", "POST %s: %v", u, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				d.report.add(name, StatusFail, "use the OTLP traces path, usually /v1/traces", "POST %s: 404: no OTLP/HTTP receiver at this path", u)
				return
			}
		}
	}
	d.report.add(name, StatusPass, "", "%s (from %s) accepts connections", hostport, source)
}

// collectorAddress reads a URL or host:port; the port defaults to 4317 for
// gRPC, 4318 for OTLP/HTTP over http and 443 over https.
func collectorAddress(endpoint, protocol string) (*url.URL, string, error) {
	if !strings.Contains(endpoint, "://") {
		host, port, err := net.SplitHostPort(endpoint)
		if err != nil {
			return nil, "", fmt.Errorf("want a URL or host:port: %v", err)
		}
		return nil, net.JoinHostPort(host, port), nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return nil, "", fmt.Errorf("not a URL with a host")
	}
	port := u.Port()
	if port == "" {
		switch {
		case u.Scheme == "https":
			port = "443"
		case protocol == configmaps.ProtocolHTTPProtobuf:
			port = "4318"
		default:
			port = "4317"
		}
	}
	return u, net.JoinHostPort(u.Hostname(), port), nil
}

// clusterOnly: a Service name (one label, or ending in .svc or
// .svc.cluster.local) that normally resolves only inside the cluster.
func clusterOnly(host string) bool {
	if net.ParseIP(host) != nil || host == "localhost" {
		return false
	}
	h := strings.TrimSuffix(host, ".")
	return !strings.Contains(h, ".") || strings.HasSuffix(h, ".svc") || strings.HasSuffix(h, ".svc.cluster.local") || strings.Count(h, ".") == 1
}

func (d *doctor) jaeger(ctx context.Context) {
	addr := d.flags.address(os.Getenv)
	c, err := jaeger.Dial(ctx, addr, jaeger.WithDialTimeout(d.flags.timeout), jaeger.WithCallTimeout(d.flags.timeout))
	if err != nil {
		d.report.add("jaeger", StatusFail,
			"kubectl -n "+SystemNamespace+" port-forward svc/jaeger 16685:16685, or pass --jaeger HOST:PORT (or set $"+EnvJaeger+")",
			"%v", err)
		return
	}
	defer c.Close()
	services, err := c.Services(ctx)
	if err != nil {
		d.report.add("jaeger", StatusFail, "check Jaeger's logs", "%v", err)
		return
	}
	d.report.add("jaeger", StatusPass, "", "query API at %s answers (%d services)", addr, len(services))
}

// webhook: installed, its Deployment ready, and answering a dry-run create.
func (d *doctor) webhook(ctx context.Context) {
	install := "install kntrace: ko apply -Rf config/"
	mwc, err := d.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, WebhookConfigName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		d.report.add("webhook/installed", StatusFail, install, "MutatingWebhookConfiguration %s not found: Services annotated %s are not injected", WebhookConfigName, InjectAnnotation)
		return
	}
	if err != nil {
		d.report.add("webhook/installed", StatusFail, "you need read access to mutatingwebhookconfigurations", "%v", err)
		return
	}
	for _, w := range mwc.Webhooks {
		if w.ClientConfig.URL != nil {
			d.webhookURL = true
		}
	}
	d.report.add("webhook/installed", StatusPass, "", "MutatingWebhookConfiguration %s (%d webhooks)", WebhookConfigName, len(mwc.Webhooks))

	dep, err := d.kube.AppsV1().Deployments(SystemNamespace).Get(ctx, WebhookDeployment, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && d.webhookURL:
		d.report.add("webhook/deployment", StatusWarn, "", "no Deployment %s/%s: the webhook configuration calls a URL, so it runs elsewhere", SystemNamespace, WebhookDeployment)
	case apierrors.IsNotFound(err):
		d.report.add("webhook/deployment", StatusFail, install, "Deployment %s/%s not found", SystemNamespace, WebhookDeployment)
	case err != nil:
		d.report.add("webhook/deployment", StatusFail, "you need read access to deployments in "+SystemNamespace, "%v", err)
	case dep.Status.ReadyReplicas < 1:
		d.report.add("webhook/deployment", StatusFail,
			fmt.Sprintf("kubectl -n %s describe deployment %s; kubectl -n %s logs deployment/%s", SystemNamespace, WebhookDeployment, SystemNamespace, WebhookDeployment),
			"Deployment %s/%s has no ready replica (%d of %d)", SystemNamespace, WebhookDeployment, dep.Status.ReadyReplicas, replicas(dep))
	default:
		d.report.add("webhook/deployment", StatusPass, "", "Deployment %s/%s: %d of %d replicas ready", SystemNamespace, WebhookDeployment, dep.Status.ReadyReplicas, replicas(dep))
	}

	if !d.installed[configmaps.ServingNamespace] {
		return
	}
	ns := d.flags.namespace
	if ns == "" {
		ns = "default"
	}
	probe := &servingv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: doctorProbeService, Namespace: ns, Annotations: map[string]string{InjectAnnotation: "true"}},
		Spec: servingv1.ServiceSpec{ConfigurationSpec: servingv1.ConfigurationSpec{Template: servingv1.RevisionTemplateSpec{
			Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "kntrace.dev/doctor-probe:dry-run"}}}},
		}}},
	}
	got, err := d.serving.ServingV1().Services(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	switch {
	case err != nil && (strings.Contains(err.Error(), "webhook") || strings.Contains(err.Error(), WebhookConfigName)):
		d.report.add("webhook/answering", StatusFail, "the webhook's pod must run and its Service/URL and caBundle must be right: kubectl -n "+SystemNamespace+" logs deployment/"+WebhookDeployment,
			"a dry-run Service in %s was not admitted: %v", ns, err)
	case err != nil:
		d.report.add("webhook/answering", StatusWarn, "", "could not dry-run a Service in %s to probe the webhook: %v", ns, err)
	case !templateHasEnv(got, InjectedEnv):
		d.report.add("webhook/answering", StatusFail,
			"check the webhook's logs, its namespaceSelector/objectSelector, and failurePolicy (Ignore hides a webhook that does not answer)",
			"a dry-run Service in %s annotated %s=true came back without %s: the webhook did not inject", ns, InjectAnnotation, InjectedEnv)
	default:
		d.report.add("webhook/answering", StatusPass, "", "a dry-run Service in %s came back with %s injected", ns, InjectedEnv)
	}
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func templateHasEnv(s *servingv1.Service, name string) bool {
	for _, c := range s.Spec.Template.Spec.Containers {
		if _, ok := envValue(c.Env, name); ok {
			return true
		}
	}
	return false
}

// dataPlane: kntrace's queue-proxy (config-deployment) and activator.
func (d *doctor) dataPlane(ctx context.Context) {
	ns := configmaps.ServingNamespace
	if !d.installed[ns] {
		return
	}
	cm, err := d.kube.CoreV1().ConfigMaps(ns).Get(ctx, "config-deployment", metav1.GetOptions{})
	switch {
	case err != nil:
		d.report.add("queue-proxy", StatusWarn, "", "cannot read %s/config-deployment: %v", ns, err)
	case strings.Contains(cm.Data["queue-sidecar-image"], "kntrace"):
		d.report.add("queue-proxy", StatusPass, "", "kntrace's queue-proxy: %s", cm.Data["queue-sidecar-image"])
	default:
		d.report.add("queue-proxy", StatusWarn,
			"set queue-sidecar-image in "+ns+"/config-deployment to kntrace's cmd/queue image (ko apply -Rf config/ does it)",
			"upstream queue-proxy (%s): no cold-start phases, no OTLP relay for apps, spans lost at scale to zero", orDefault(cm.Data["queue-sidecar-image"], "Knative's default"))
	}
	dep, err := d.kube.AppsV1().Deployments(ns).Get(ctx, "activator", metav1.GetOptions{})
	if err != nil {
		d.report.add("activator", StatusWarn, "", "cannot read %s/activator: %v", ns, err)
		return
	}
	var images []string
	for _, c := range dep.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	if slices.ContainsFunc(images, func(s string) bool { return strings.Contains(s, "kntrace") }) {
		d.report.add("activator", StatusPass, "", "kntrace's activator: %s", strings.Join(images, ", "))
		return
	}
	d.report.add("activator", StatusWarn, "deploy kntrace's cmd/activator image in "+ns+"/activator (opt-in, see config/)",
		"upstream activator (%s): the wait for a scale from zero is not marked faas.coldstart nor split into phases", strings.Join(images, ", "))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// services: Services asking for injection whose template lacks the env.
func (d *doctor) services(ctx context.Context) {
	const name = "services"
	if !d.installed[configmaps.ServingNamespace] {
		return
	}
	list, err := d.serving.ServingV1().Services(d.flags.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		d.report.add(name, StatusWarn, "", "cannot list Knative Services: %v", err)
		return
	}
	enabledNS := map[string]bool{}
	if nss, err := d.kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: InjectLabel + "=" + revisions.NamespaceEnabled}); err == nil {
		for _, n := range nss.Items {
			enabledNS[n.Name] = true
		}
	}
	asking, missing := 0, 0
	for i := range list.Items {
		s := &list.Items[i]
		for _, c := range s.Spec.Template.Spec.Containers {
			arg, hasArg := envValue(c.Env, revisions.EnvSamplerArg)
			if _, hasSampler := envValue(c.Env, revisions.EnvSampler); hasArg && !hasSampler {
				d.report.add(name, StatusWarn, fmt.Sprintf("add %s=%s to container %q of Service %s/%s, or remove %s", revisions.EnvSampler, revisions.Sampler, c.Name, s.Namespace, s.Name, revisions.EnvSamplerArg),
					"Service %s/%s container %q sets %s=%q without %s: OpenTelemetry SDKs ignore the argument and keep their default sampler",
					s.Namespace, s.Name, c.Name, revisions.EnvSamplerArg, arg, revisions.EnvSampler)
			}
		}
		// The webhook's own rule: the annotation on the Service or its
		// template (where kn trace enable writes it), or the namespace label.
		var nsLabels map[string]string
		if enabledNS[s.Namespace] {
			nsLabels = map[string]string{InjectLabel: revisions.NamespaceEnabled}
		}
		settings, ferr := revisions.Resolve(revisions.ServiceTarget(s), revisions.WithNamespaceLabels(nsLabels))
		if ferr != nil {
			d.report.add(name, StatusFail, "fix the annotation: "+ferr.Error(), "Service %s/%s: %v", s.Namespace, s.Name, ferr)
			continue
		}
		if !settings.Inject {
			continue
		}
		asking++
		if templateHasEnv(s, InjectedEnv) {
			continue
		}
		missing++
		d.report.add(name, StatusFail,
			fmt.Sprintf("with the webhook running, apply the Service again: kubectl -n %s annotate ksvc %s %s=true --overwrite (or kn service update %s -n %s)", s.Namespace, s.Name, InjectAnnotation, s.Name, s.Namespace),
			"Service %s/%s asks for injection but its template has no %s: the webhook was not running when it was applied", s.Namespace, s.Name, InjectedEnv)
	}
	if missing == 0 {
		scope := "all namespaces"
		if d.flags.namespace != "" {
			scope = "namespace " + d.flags.namespace
		}
		d.report.add(name, StatusPass, "", "%d Services in %s ask for injection, all injected", asking, scope)
	}
}

// podInfo: config-features queueproxy.mount-podinfo.
func (d *doctor) podInfo(ctx context.Context) {
	const name, key = "podinfo", "queueproxy.mount-podinfo"
	ns := configmaps.ServingNamespace
	if !d.installed[ns] {
		return
	}
	cm, err := d.kube.CoreV1().ConfigMaps(ns).Get(ctx, "config-features", metav1.GetOptions{})
	if err != nil {
		d.report.add(name, StatusWarn, "", "cannot read %s/config-features: %v", ns, err)
		return
	}
	fix := fmt.Sprintf(`kubectl -n %s patch configmap config-features --type merge -p '{"data":{"%s":"enabled"}}'`, ns, key)
	switch v := cm.Data[key]; v {
	case "enabled":
		d.report.add(name, StatusPass, "", "%s is enabled: kntrace's queue-proxy reads the pod's annotations from /etc/podinfo", key)
	case "allowed":
		d.report.add(name, StatusPass, "", "%s is allowed: kntrace's webhook annotates templates %s=enabled, so kntrace's queue-proxy gets /etc/podinfo", key, revisions.PodInfoAnnotation)
	default:
		d.report.add(name, StatusWarn, fix, "%s is %q: the queue-proxy gets no /etc/podinfo, so kntrace's queue-proxy cannot see a Service's kntrace.dev/* annotations", key, orDefault(v, "disabled"))
	}
}
