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
	"encoding/json"
	"fmt"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/logging"
	knwebhook "knative.dev/pkg/webhook"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/settings"
)

// AdmissionPath is where the API server sends admission reviews.
const AdmissionPath = "/mutate"

// Admission patches the Revision template of Knative Services and of
// Configurations that no Service owns, as their kntrace annotations, their namespace's label and
// config-kntrace say.
type Admission struct {
	path            string
	config          func() *settings.Config
	namespaceLabels func(namespace string) map[string]string
	version         string
}

var _ knwebhook.AdmissionController = (*Admission)(nil)

// NewAdmission returns an Admission that reads kntrace's configuration and
// namespace labels through the given functions (informer listers in Run).
func NewAdmission(config func() *settings.Config, namespaceLabels func(string) map[string]string, version string) *Admission {
	return &Admission{path: AdmissionPath, config: config, namespaceLabels: namespaceLabels, version: version}
}

// Path implements knwebhook.AdmissionController.
func (a *Admission) Path() string { return a.path }

// Admit implements knwebhook.AdmissionController. Anything it does not
// recognise is allowed unchanged: tracing never blocks a deploy. Only an
// invalid kntrace annotation is refused.
func (a *Admission) Admit(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	allow := &admissionv1.AdmissionResponse{Allowed: true}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return allow
	}
	if req.SubResource != "" || req.Kind.Group != servingv1.SchemeGroupVersion.Group || req.Kind.Version != servingv1.SchemeGroupVersion.Version {
		return allow
	}
	logger := logging.FromContext(ctx)
	target, meta, err := decode(req.Kind.Kind, req.Object.Raw)
	if err != nil {
		logger.Warnw("cannot decode the object; allowing it unchanged", zap.Error(err))
		return allow
	}
	if target.Template == nil || meta.DeletionTimestamp != nil {
		return allow
	}
	// A Service's Configuration gets the Service's (already patched)
	// template from Knative's Service reconciler. Patching it here could
	// differ from the Service (a namespace label or config-kntrace changed in
	// between) and the two reconcilers would undo each other forever.
	if req.Kind.Kind == "Configuration" && meta.Labels[serving.ServiceLabelKey] != "" {
		return allow
	}
	// Knative refuses a template change that keeps a user-chosen revision
	// name (spec.template.metadata.name): never be the cause of that.
	if req.Operation == admissionv1.Update && target.Template.Name != "" {
		if old, _, err := decode(req.Kind.Kind, req.OldObject.Raw); err == nil && old.Template != nil && old.Template.Name == target.Template.Name {
			return allow
		}
	}
	ns := meta.Namespace
	if ns == "" {
		ns = req.Namespace
	}
	before := target.Template.DeepCopy()
	res, err := revisions.Patch(target,
		revisions.WithConfig(a.config()),
		revisions.WithNamespaceLabels(a.namespaceLabels(ns)),
		revisions.WithNamespace(ns),
		revisions.WithVersion(a.version))
	if err != nil {
		return knwebhook.MakeErrorStatus("%s", err.Error())
	}
	if !res.Changed {
		return allow
	}
	patch, err := templatePatch(req.Object.Raw, before, target.Template)
	if err != nil {
		logger.Errorw("cannot build the JSON patch; allowing the object unchanged", zap.Error(err))
		return allow
	}
	pt := admissionv1.PatchTypeJSONPatch
	return &admissionv1.AdmissionResponse{Allowed: true, Patch: patch, PatchType: &pt}
}

// decode reads a Service or a Configuration; any other kind gives a Target
// without a template.
func decode(kind string, raw []byte) (revisions.Target, *metav1.ObjectMeta, error) {
	switch kind {
	case "Service":
		var s servingv1.Service
		if err := json.Unmarshal(raw, &s); err != nil {
			return revisions.Target{}, nil, err
		}
		return revisions.ServiceTarget(&s), &s.ObjectMeta, nil
	case "Configuration":
		var c servingv1.Configuration
		if err := json.Unmarshal(raw, &c); err != nil {
			return revisions.Target{}, nil, err
		}
		return revisions.ConfigurationTarget(&c), &c.ObjectMeta, nil
	}
	return revisions.Target{}, &metav1.ObjectMeta{}, nil
}

// String names the controller in logs.
func (a *Admission) String() string { return fmt.Sprintf("kntrace admission at %s", a.path) }
