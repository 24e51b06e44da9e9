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
	"maps"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/settings"
)

// How enable and disable changed a Service's template.
const (
	// ModeWebhook: only the annotations were written; the kntrace webhook
	// patched the template on admission.
	ModeWebhook = "webhook"
	// ModeDirect: no kntrace webhook is installed; kn trace patched the
	// template itself, through the same revisions package.
	ModeDirect = "direct"
)

// EnableResult is what enable and disable report.
type EnableResult struct {
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	Mode      string `json:"mode"`
	// Changed is false when the Service already was as asked: nothing was
	// written and no Revision is created.
	Changed    bool                `json:"changed"`
	Generation int64               `json:"generation"`
	Injected   bool                `json:"injected"`
	Settings   *revisions.Settings `json:"settings,omitempty"`
	Warnings   []string            `json:"warnings,omitempty"`
}

type enableFlags struct {
	namespace    string
	samplingRate string
	propagators  string
	output       string
}

func (g *globals) namespace(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if g.kubeconfig != "" {
		rules.ExplicitPath = g.kubeconfig
	}
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: g.context}).Namespace()
	if err != nil {
		return "", fmt.Errorf("namespace from kubeconfig: %w", err)
	}
	return ns, nil
}

func newEnableCommand(g *globals) *cobra.Command {
	var f enableFlags
	cmd := &cobra.Command{
		Use:   "enable SERVICE",
		Short: "Turn tracing on for a Knative Service",
		Long: `enable annotates the Service's revision template with kntrace.dev/inject: "true"
(and kntrace.dev/sampling-rate, kntrace.dev/propagators when given). The kntrace
webhook then adds the OpenTelemetry environment to every container; where no
kntrace webhook is installed, enable patches the template itself with the same
result. A changed template rolls out a new revision; running enable again with
the same settings writes nothing.`,
		Example: `  kn trace enable hello -n demo
  kn trace enable hello --sampling-rate 1 --propagators tracecontext,baggage,b3`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			want := map[string]string{conventions.InjectAnnotation: "true"}
			if cmd.Flags().Changed("sampling-rate") {
				if _, err := revisions.ParseSamplingRate(f.samplingRate); err != nil {
					return usageError("--sampling-rate %q: want a number in [0, 1]", f.samplingRate)
				}
				want[conventions.SamplingRateAnnotation] = f.samplingRate
			}
			if cmd.Flags().Changed("propagators") {
				p, err := revisions.ParsePropagators(f.propagators)
				if err != nil {
					return usageError("--propagators %q: %s", f.propagators, err.Details)
				}
				want[conventions.PropagatorsAnnotation] = p
			}
			return runEnable(cmd.Context(), g, &f, args[0], func(s *servingv1.Service, _ map[string]string) {
				if s.Spec.Template.Annotations == nil {
					s.Spec.Template.Annotations = map[string]string{}
				}
				maps.Copy(s.Spec.Template.Annotations, want)
			})
		},
	}
	f.register(cmd, true)
	return cmd
}

func newDisableCommand(g *globals) *cobra.Command {
	var f enableFlags
	cmd := &cobra.Command{
		Use:   "disable SERVICE",
		Short: "Turn tracing off for a Knative Service",
		Long: `disable removes kntrace's annotations from the Service and exactly what kntrace
added to its revision template, never a variable the user set. In a namespace
labelled kntrace.dev/inject=enabled it sets kntrace.dev/inject: "false" on the
template instead, to opt the Service out of the namespace default.`,
		Example: "  kn trace disable hello -n demo",
		Args:    exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEnable(cmd.Context(), g, &f, args[0], func(s *servingv1.Service, nsLabels map[string]string) {
				for _, a := range []string{conventions.InjectAnnotation, conventions.SamplingRateAnnotation, conventions.PropagatorsAnnotation} {
					delete(s.Annotations, a)
					delete(s.Spec.Template.Annotations, a)
				}
				if nsLabels[conventions.NamespaceLabel] == conventions.NamespaceEnabled {
					if s.Spec.Template.Annotations == nil {
						s.Spec.Template.Annotations = map[string]string{}
					}
					s.Spec.Template.Annotations[conventions.InjectAnnotation] = "false"
				}
				if len(s.Annotations) == 0 {
					s.Annotations = nil
				}
				if len(s.Spec.Template.Annotations) == 0 {
					s.Spec.Template.Annotations = nil
				}
			})
		},
	}
	f.register(cmd, false)
	return cmd
}

func (f *enableFlags) register(cmd *cobra.Command, settings bool) {
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "the Service's namespace (default: the kubeconfig context's)")
	if settings {
		cmd.Flags().StringVar(&f.samplingRate, "sampling-rate", "", "sampling ratio for new traces, in [0, 1] (default: config-kntrace's sampling-rate)")
		cmd.Flags().StringVar(&f.propagators, "propagators", "", "OTEL_PROPAGATORS list: tracecontext, baggage, b3, b3multi, jaeger or none (default: config-kntrace's propagators)")
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: json or yaml")
}

// runEnable edits the Service's annotations with edit and, without a kntrace
// webhook, patches its template with revisions; it writes only on a change.
func runEnable(ctx context.Context, g *globals, f *enableFlags, name string, edit func(*servingv1.Service, map[string]string)) error {
	format, err := parseOutput(f.output)
	if err != nil {
		return err
	}
	ns, err := g.namespace(f.namespace)
	if err != nil {
		return err
	}
	kube, serving, err := g.clients()
	if err != nil {
		return err
	}
	res := &EnableResult{Namespace: ns, Service: name, Mode: ModeDirect}
	if _, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, conventions.WebhookConfigurationName, metav1.GetOptions{}); err == nil {
		res.Mode = ModeWebhook
	} else if !apierrors.IsNotFound(err) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("cannot tell whether the kntrace webhook is installed (%v): patching the template directly", err))
	}
	var nsLabels map[string]string
	if n, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
		nsLabels = n.Labels
	} else {
		res.Warnings = append(res.Warnings, fmt.Sprintf("cannot read namespace %s (%v): its %s label is not taken into account", ns, err, conventions.NamespaceLabel))
	}
	kntraceCfg := settings.DefaultConfig()
	if res.Mode == ModeDirect {
		cm, err := kube.CoreV1().ConfigMaps(conventions.SystemNamespace).Get(ctx, settings.ConfigName, metav1.GetOptions{})
		switch {
		case err == nil:
			if kntraceCfg, err = settings.NewConfigFromConfigMap(cm); err != nil {
				return &ExitError{Code: ExitRefused, Err: err}
			}
		case apierrors.IsNotFound(err):
			res.Warnings = append(res.Warnings, fmt.Sprintf("no %s/%s: using kntrace's defaults (collector %s)", conventions.SystemNamespace, settings.ConfigName, kntraceCfg.AppEndpoint()))
		default:
			res.Warnings = append(res.Warnings, fmt.Sprintf("cannot read %s/%s (%v): using kntrace's defaults", conventions.SystemNamespace, settings.ConfigName, err))
		}
	}
	services := serving.ServingV1().Services(ns)
	wantInjected := false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := services.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("Knative Service %s/%s not found", ns, name)
		}
		if err != nil {
			return err
		}
		next := svc.DeepCopy()
		edit(next, nsLabels)
		target := revisions.ServiceTarget(next)
		if s, ferr := revisions.Resolve(target, revisions.WithNamespaceLabels(nsLabels)); ferr == nil {
			wantInjected = s.Inject
		}
		if res.Mode == ModeDirect {
			r, err := revisions.Patch(target, revisions.WithConfig(kntraceCfg), revisions.WithNamespaceLabels(nsLabels), revisions.WithNamespace(ns), revisions.WithVersion(Version))
			if err != nil {
				return &ExitError{Code: ExitRefused, Err: fmt.Errorf("Service %s/%s: %w", ns, name, err)}
			}
			res.Settings = &r.Settings
		} else if ferr := revisions.Validate(target); ferr != nil {
			return &ExitError{Code: ExitRefused, Err: fmt.Errorf("Service %s/%s: %w", ns, name, ferr)}
		}
		res.Changed = !equalService(svc, next)
		res.Generation, res.Injected = svc.Generation, revisions.Injected(&svc.Spec.Template)
		if !res.Changed {
			return nil
		}
		updated, err := services.Update(ctx, next, metav1.UpdateOptions{FieldManager: "kn-trace"})
		if err != nil {
			return err
		}
		res.Generation, res.Injected = updated.Generation, revisions.Injected(&updated.Spec.Template)
		return nil
	})
	if err != nil {
		return err
	}
	if res.Mode == ModeWebhook && res.Changed {
		if wantInjected != res.Injected {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the kntrace webhook did not patch the template (injected=%v): is it running? kubectl -n %s logs deployment/kntrace-webhook", res.Injected, conventions.SystemNamespace))
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(g.streams.Err, "warning:", w)
	}
	if format != "" {
		return writeStructured(g.streams.Out, format, res)
	}
	state := "tracing off"
	if res.Injected {
		state = "tracing on"
	}
	switch {
	case !res.Changed:
		fmt.Fprintf(g.streams.Out, "Service %s/%s unchanged (%s): nothing written, no new revision\n", ns, name, state)
	case res.Mode == ModeWebhook:
		fmt.Fprintf(g.streams.Out, "Service %s/%s updated (%s, template patched by the kntrace webhook); generation %d rolls out a new revision\n", ns, name, state, res.Generation)
	default:
		fmt.Fprintf(g.streams.Out, "Service %s/%s updated (%s, template patched directly: no kntrace webhook installed); generation %d rolls out a new revision\n", ns, name, state, res.Generation)
	}
	if res.Settings != nil && res.Injected {
		fmt.Fprintf(g.streams.Out, "  sampling rate %s, propagators %s, exporting to %s\n", conventions.FormatRate(res.Settings.SamplingRate), res.Settings.Propagators, res.Settings.Endpoint)
	}
	return nil
}

func equalService(a, b *servingv1.Service) bool {
	return maps.Equal(a.Annotations, b.Annotations) && equality.Semantic.DeepEqual(a.Spec.Template, b.Spec.Template)
}
