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
	"net/http"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	activatorhandler "knative.dev/serving/pkg/activator/handler"
	"knative.dev/serving/pkg/apis/serving"
	pkghttp "knative.dev/serving/pkg/http"
	o11yconfigmap "knative.dev/serving/pkg/observability/configmap"
)

// requestLogUpdater sets the request-log template from config-observability
// (no template, no request log).
func requestLogUpdater(logger *zap.SugaredLogger, h *pkghttp.RequestLogHandler) func(*corev1.ConfigMap) {
	return func(cm *corev1.ConfigMap) {
		cfg, err := o11yconfigmap.Parse(cm)
		if err != nil {
			logger.Errorw("Failed to get observability configmap.", zap.Error(err), "configmap", cm)
			return
		}
		template := ""
		if cfg.EnableRequestLog {
			template = cfg.RequestLogTemplate
		}
		if err := h.SetTemplate(template); err != nil {
			logger.Errorw("Failed to update the request log template.", zap.Error(err), "template", template)
			return
		}
		logger.Infow("Updated the request log template.", "template", template)
	}
}

// requestLogTemplateInput is the request log's view of a request; the
// context handler has put the revision in its context.
func requestLogTemplateInput(req *http.Request, resp *pkghttp.RequestLogResponse) *pkghttp.RequestLogTemplateInput {
	rev := activatorhandler.RevisionFrom(req.Context())
	info := &pkghttp.RequestLogRevision{Namespace: rev.Namespace, Name: rev.Name}
	if rev.Labels != nil {
		info.Configuration = rev.Labels[serving.ConfigurationLabelKey]
		info.Service = rev.Labels[serving.ServiceLabelKey]
	}
	return &pkghttp.RequestLogTemplateInput{Request: req, Response: resp, Revision: info}
}
