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

package revisions

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

// Target is an object whose Revision template kntrace patches.
type Target struct {
	// Meta is the object's metadata (annotations may ask for tracing).
	Meta *metav1.ObjectMeta
	// Template is the Revision template, patched in place.
	Template *servingv1.RevisionTemplateSpec
	// ServiceName becomes OTEL_SERVICE_NAME.
	ServiceName string
}

// ServiceTarget is a Knative Service's template.
func ServiceTarget(s *servingv1.Service) Target {
	return Target{Meta: &s.ObjectMeta, Template: &s.Spec.Template, ServiceName: s.Name}
}

// ConfigurationTarget is a Configuration's template; a Configuration that a
// Service owns is named after the Service.
func ConfigurationTarget(c *servingv1.Configuration) Target {
	name := c.Labels[serving.ServiceLabelKey]
	if name == "" {
		name = c.Name
	}
	return Target{Meta: &c.ObjectMeta, Template: &c.Spec.Template, ServiceName: name}
}

type options struct {
	config          *settings.Config
	namespaceLabels map[string]string
	namespace       string
	version         string
}

// Option configures Resolve and Patch.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithConfig gives kntrace's defaults (config-kntrace); default settings.DefaultConfig().
func WithConfig(c *settings.Config) Option { return optionFunc(func(o *options) { o.config = c }) }

// WithNamespaceLabels gives the labels of the object's namespace, where
// kntrace.dev/inject=enabled turns injection on.
func WithNamespaceLabels(l map[string]string) Option {
	return optionFunc(func(o *options) { o.namespaceLabels = l })
}

// WithNamespace gives the namespace when the object does not carry it (an
// admission request for a create may leave metadata.namespace empty).
func WithNamespace(ns string) Option { return optionFunc(func(o *options) { o.namespace = ns }) }

// WithVersion gives the kntrace version recorded in OTEL_RESOURCE_ATTRIBUTES.
func WithVersion(v string) Option { return optionFunc(func(o *options) { o.version = v }) }

// Settings are the resolved tracing settings of one object.
type Settings struct {
	Inject bool `json:"inject"`
	// Reason says which annotation, label or default decided Inject.
	Reason       string  `json:"reason"`
	ServiceName  string  `json:"serviceName"`
	Namespace    string  `json:"namespace"`
	Endpoint     string  `json:"endpoint"`
	SamplingRate float64 `json:"samplingRate"`
	Propagators  string  `json:"propagators"`
	Version      string  `json:"version"`
	// Relay are the relay limits the revision's queue-proxy will run with.
	Relay settings.RelayLimits `json:"-"`
	// RelayAnnotations are the kntrace.dev/relay-* annotations kntrace
	// writes onto the template: values from the object's metadata or from
	// config-kntrace (when they differ from the relay's defaults), never
	// over a user's annotation on the template.
	RelayAnnotations map[string]string `json:"relayAnnotations,omitempty"`
}

// Env returns the variables kntrace sets, in a fixed order.
func (s Settings) Env() []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: conventions.EnvServiceName, Value: s.ServiceName},
		{Name: conventions.EnvEndpoint, Value: s.Endpoint},
		{Name: conventions.EnvProtocol, Value: conventions.ProtocolHTTPProtobuf},
		{Name: conventions.EnvPropagators, Value: s.Propagators},
		{Name: conventions.EnvSampler, Value: conventions.Sampler},
		{Name: conventions.EnvSamplerArg, Value: conventions.FormatRate(s.SamplingRate)},
		{Name: conventions.EnvResourceAttributes, Value: fmt.Sprintf("k8s.namespace.name=%s,telemetry.distro.name=kntrace,telemetry.distro.version=%s", s.Namespace, s.Version)},
	}
}

// Validate checks kntrace's annotations on t's metadata and template; each
// error names the annotation and what it accepts.
func Validate(t Target) *apis.FieldError {
	_, err := Resolve(t)
	return err
}

// Resolve reads what t asks for: annotations on the template first, then on
// the metadata, then the namespace label, then config-kntrace.
func Resolve(t Target, opts ...Option) (Settings, *apis.FieldError) {
	o := options{version: "devel"}
	for _, opt := range opts {
		opt.apply(&o)
	}
	cfg := o.config
	if cfg == nil {
		cfg = settings.DefaultConfig()
	}
	s := Settings{
		ServiceName:  t.ServiceName,
		Namespace:    t.Meta.Namespace,
		Endpoint:     cfg.AppEndpoint(),
		SamplingRate: cfg.HeadSamplingRate(),
		Propagators:  cfg.Propagators,
		Version:      o.version,
		Relay:        cfg.Relay,
		Reason:       fmt.Sprintf("no %s annotation and namespace label %s is not %q", conventions.InjectAnnotation, conventions.NamespaceLabel, conventions.NamespaceEnabled),
	}
	if s.Namespace == "" {
		s.Namespace = o.namespace
	}
	if o.namespaceLabels[conventions.NamespaceLabel] == conventions.NamespaceEnabled {
		s.Inject, s.Reason = true, fmt.Sprintf("namespace label %s=%s", conventions.NamespaceLabel, conventions.NamespaceEnabled)
	}
	var errs *apis.FieldError
	// Metadata first, then the template, so that the template wins.
	sources := []struct {
		path        []string
		annotations map[string]string
	}{
		{[]string{"metadata", "annotations"}, t.Meta.Annotations},
		{[]string{"spec", "template", "metadata", "annotations"}, t.Template.Annotations},
	}
	for _, src := range sources {
		where := strings.Join(src.path, ".")
		if v, ok := src.annotations[conventions.InjectAnnotation]; ok {
			b, err := ParseInject(v)
			errs = errs.Also(err.ViaField(src.path...))
			if err == nil {
				s.Inject, s.Reason = b, fmt.Sprintf("%s: %q on %s", conventions.InjectAnnotation, v, where)
			}
		}
		if v, ok := src.annotations[conventions.SamplingRateAnnotation]; ok && strings.TrimSpace(v) != "" {
			r, err := ParseSamplingRate(v)
			errs = errs.Also(err.ViaField(src.path...))
			if err == nil {
				s.SamplingRate = r
			}
		}
		if v, ok := src.annotations[conventions.PropagatorsAnnotation]; ok && strings.TrimSpace(v) != "" {
			p, err := ParsePropagators(v)
			errs = errs.Also(err.ViaField(src.path...))
			if err == nil {
				s.Propagators = p
			}
		}
	}
	return s, errs.Also(resolveRelay(t, cfg, &s))
}

// relayLimit is one relay limit: its annotation, where Settings keeps it,
// and how it is read and written.
type relayLimit struct {
	annotation string
	// set parses v into s and returns the canonical text of the value.
	set func(s *Settings, v string) (string, *apis.FieldError)
	// fromConfig is config-kntrace's value as text, "" when it is the
	// relay's default (then nothing is written onto templates).
	fromConfig func(c *settings.Config) string
}

var relayLimits = []relayLimit{{
	annotation: conventions.RelayMaxBytesAnnotation,
	set: func(s *Settings, v string) (string, *apis.FieldError) {
		n, err := ParseRelayBytes(conventions.RelayMaxBytesAnnotation, v)
		s.Relay.MaxBytes = unlessErr(err, n, s.Relay.MaxBytes)
		return conventions.FormatByteSize(n), err
	},
	fromConfig: func(c *settings.Config) string {
		return unlessDefault(c.Relay.MaxBytes, conventions.DefaultRelayMaxBytes, conventions.FormatByteSize)
	},
}, {
	annotation: conventions.RelayMaxRequestBytesAnnotation,
	set: func(s *Settings, v string) (string, *apis.FieldError) {
		n, err := ParseRelayBytes(conventions.RelayMaxRequestBytesAnnotation, v)
		s.Relay.MaxRequestBytes = unlessErr(err, n, s.Relay.MaxRequestBytes)
		return conventions.FormatByteSize(n), err
	},
	fromConfig: func(c *settings.Config) string {
		return unlessDefault(c.Relay.MaxRequestBytes, conventions.DefaultRelayMaxRequestBytes, conventions.FormatByteSize)
	},
}, {
	annotation: conventions.RelayDrainTimeoutAnnotation,
	set: func(s *Settings, v string) (string, *apis.FieldError) {
		d, err := ParseRelayDrainTimeout(v)
		s.Relay.DrainTimeout = unlessErr(err, d, s.Relay.DrainTimeout)
		return d.String(), err
	},
	fromConfig: func(c *settings.Config) string {
		return unlessDefault(c.Relay.DrainTimeout, conventions.DefaultRelayDrainTimeout, time.Duration.String)
	},
}}

// unlessErr is v without an error, else keep.
func unlessErr[T any](err *apis.FieldError, v, keep T) T {
	if err != nil {
		return keep
	}
	return v
}

func unlessDefault[T comparable](v, def T, format func(T) string) string {
	if v == def {
		return ""
	}
	return format(v)
}

// resolveRelay reads the relay limits: a user's annotation on the template
// first, then on the object's metadata, then config-kntrace. The template
// annotations kntrace wrote itself (recorded in InjectedAnnotation) are
// its copies, not a user's, and are read again from their source.
func resolveRelay(t Target, cfg *settings.Config, s *Settings) *apis.FieldError {
	owned := readInjected(t.Template).Annotations
	var (
		errs    *apis.FieldError
		userSet = map[string]bool{}
	)
	for _, l := range relayLimits {
		write := l.fromConfig(cfg)
		for _, src := range []struct {
			path        []string
			annotations map[string]string
			template    bool
		}{
			{[]string{"metadata", "annotations"}, t.Meta.Annotations, false},
			{[]string{"spec", "template", "metadata", "annotations"}, t.Template.Annotations, true},
		} {
			v, ok := src.annotations[l.annotation]
			if !ok || strings.TrimSpace(v) == "" || (src.template && slices.Contains(owned, l.annotation)) {
				continue
			}
			canonical, err := l.set(s, v)
			if err != nil {
				errs = errs.Also(err.ViaField(src.path...))
				continue
			}
			userSet[l.annotation] = true
			write = canonical
			if src.template {
				write = "" // the user's own annotation reaches the pod as it is
			}
		}
		if write != "" {
			if s.RelayAnnotations == nil {
				s.RelayAnnotations = map[string]string{}
			}
			s.RelayAnnotations[l.annotation] = write
		}
	}
	if userSet[conventions.RelayMaxBytesAnnotation] && userSet[conventions.RelayMaxRequestBytesAnnotation] && s.Relay.MaxRequestBytes > s.Relay.MaxBytes {
		errs = errs.Also(apis.ErrInvalidValue(conventions.FormatByteSize(s.Relay.MaxRequestBytes), conventions.RelayMaxRequestBytesAnnotation,
			"want at most "+conventions.RelayMaxBytesAnnotation+" ("+conventions.FormatByteSize(s.Relay.MaxBytes)+")"))
	}
	return errs
}

// Result is what Patch did.
type Result struct {
	Settings Settings
	// Changed is true when the template was modified.
	Changed bool
}

// Patch resolves t's settings and then injects (Apply) or, when tracing is
// not asked for, removes what kntrace added before (Remove). An invalid
// annotation changes nothing.
func Patch(t Target, opts ...Option) (Result, error) {
	s, ferr := Resolve(t, opts...)
	if ferr != nil {
		return Result{Settings: s}, ferr
	}
	if s.Inject {
		return Result{Settings: s, Changed: Apply(t.Template, s)}, nil
	}
	return Result{Settings: s, Changed: Remove(t.Template)}, nil
}

// injected is the content of conventions.InjectedAnnotation.
type injected struct {
	// Env lists, per container index, the variables kntrace added.
	Env [][]string `json:"env,omitempty"`
	// Annotations lists the template annotations kntrace added.
	Annotations []string `json:"annotations,omitempty"`
}

func (in injected) empty() bool {
	for _, e := range in.Env {
		if len(e) > 0 {
			return false
		}
	}
	return len(in.Annotations) == 0
}

func (in injected) env(i int) []string {
	if i < len(in.Env) {
		return in.Env[i]
	}
	return nil
}

// ParseInjected reads conventions.InjectedAnnotation. It is user-editable, so anything
// that is not the JSON kntrace writes is an error (and then nothing counts
// as kntrace's: a user's variable is never touched).
func ParseInjected(v string) (env [][]string, annotations []string, err error) {
	var in injected
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, nil, fmt.Errorf("annotation %s is not what kntrace writes: %w", conventions.InjectedAnnotation, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("annotation %s is not what kntrace writes: trailing data", conventions.InjectedAnnotation)
	}
	return in.Env, in.Annotations, nil
}

func readInjected(tmpl *servingv1.RevisionTemplateSpec) injected {
	v, ok := tmpl.Annotations[conventions.InjectedAnnotation]
	if !ok {
		return injected{}
	}
	env, ann, err := ParseInjected(v)
	if err != nil {
		return injected{}
	}
	return injected{Env: env, Annotations: ann}
}

func writeInjected(tmpl *servingv1.RevisionTemplateSpec, in injected) {
	if in.empty() {
		delete(tmpl.Annotations, conventions.InjectedAnnotation)
		if len(tmpl.Annotations) == 0 {
			tmpl.Annotations = nil
		}
		return
	}
	b, _ := json.Marshal(in) // slices of strings always marshal
	if tmpl.Annotations == nil {
		tmpl.Annotations = map[string]string{}
	}
	tmpl.Annotations[conventions.InjectedAnnotation] = string(b)
}

// Apply sets s on every container of tmpl and the podinfo annotation on
// tmpl, except where the user set a variable or annotation of the same name,
// and updates the variables kntrace added before. It reports whether tmpl
// changed; applying the same settings again changes nothing.
func Apply(tmpl *servingv1.RevisionTemplateSpec, s Settings) bool {
	owned := readInjected(tmpl)
	want := s.Env()
	wantNames := make(map[string]bool, len(want))
	for _, e := range want {
		wantNames[e.Name] = true
	}
	changed := false
	next := injected{Env: make([][]string, len(tmpl.Spec.Containers))}
	for i := range tmpl.Spec.Containers {
		c := &tmpl.Spec.Containers[i]
		mine := owned.env(i)
		// Variables kntrace added that it no longer sets.
		n := len(c.Env)
		c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool {
			return slices.Contains(mine, e.Name) && !wantNames[e.Name]
		})
		changed = changed || len(c.Env) != n
		for _, w := range want {
			j := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == w.Name })
			switch {
			case j < 0:
				c.Env = append(c.Env, w)
				changed = true
			case slices.Contains(mine, w.Name):
				if c.Env[j].Value != w.Value || c.Env[j].ValueFrom != nil {
					c.Env[j] = w
					changed = true
				}
			default:
				continue // the user's
			}
			next.Env[i] = append(next.Env[i], w.Name)
		}
		if len(c.Env) == 0 {
			c.Env = nil
		}
	}
	wantAnn := map[string]string{conventions.PodInfoAnnotation: "enabled"}
	maps.Copy(wantAnn, s.RelayAnnotations)
	// Annotations kntrace added that it no longer sets.
	for _, a := range owned.Annotations {
		if _, keep := wantAnn[a]; !keep {
			if _, ok := tmpl.Annotations[a]; ok {
				delete(tmpl.Annotations, a)
				changed = true
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(wantAnn)) {
		v, ok := tmpl.Annotations[k]
		if ok && !slices.Contains(owned.Annotations, k) {
			continue // the user's
		}
		if !ok || v != wantAnn[k] {
			if tmpl.Annotations == nil {
				tmpl.Annotations = map[string]string{}
			}
			tmpl.Annotations[k] = wantAnn[k]
			changed = true
		}
		next.Annotations = append(next.Annotations, k)
	}
	before, had := tmpl.Annotations[conventions.InjectedAnnotation]
	writeInjected(tmpl, next)
	after, has := tmpl.Annotations[conventions.InjectedAnnotation]
	return changed || had != has || before != after
}

// Remove takes away exactly what kntrace added to tmpl (as recorded in
// conventions.InjectedAnnotation) and reports whether tmpl changed.
func Remove(tmpl *servingv1.RevisionTemplateSpec) bool {
	if _, ok := tmpl.Annotations[conventions.InjectedAnnotation]; !ok {
		return false
	}
	owned := readInjected(tmpl)
	for i := range tmpl.Spec.Containers {
		c := &tmpl.Spec.Containers[i]
		mine := owned.env(i)
		c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return slices.Contains(mine, e.Name) })
		if len(c.Env) == 0 {
			c.Env = nil
		}
	}
	for _, a := range owned.Annotations {
		delete(tmpl.Annotations, a)
	}
	writeInjected(tmpl, injected{})
	return true
}

// Injected reports whether kntrace has patched tmpl.
func Injected(tmpl *servingv1.RevisionTemplateSpec) bool {
	_, ok := tmpl.Annotations[conventions.InjectedAnnotation]
	return ok
}
