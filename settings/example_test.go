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

package settings_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"knative.dev/pkg/configmap"
	"sigs.k8s.io/yaml"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
)

// TestShippedConfigMap: config/300-config-kntrace.yaml ships no settings,
// its _example block documents exactly the defaults, and its checksum is
// current.
func TestShippedConfigMap(t *testing.T) {
	b, err := os.ReadFile("../config/300-config-kntrace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Name != settings.ConfigName || cm.Namespace != conventions.SystemNamespace {
		t.Errorf("shipped %s/%s, want %s/%s", cm.Namespace, cm.Name, conventions.SystemNamespace, settings.ConfigName)
	}
	example, ok := cm.Data[configmap.ExampleKey]
	if !ok || len(cm.Data) != 1 {
		t.Fatalf("data keys %v: want only %s", len(cm.Data), configmap.ExampleKey)
	}
	if got, want := cm.Annotations[configmap.ExampleChecksumAnnotation], configmap.Checksum(example); got != want {
		t.Errorf("%s = %q, want %q (update it after editing _example)", configmap.ExampleChecksumAnnotation, got, want)
	}
	var documented map[string]string
	if err := yaml.Unmarshal([]byte(example), &documented); err != nil {
		t.Fatalf("_example is not YAML: %v", err)
	}
	got, err := settings.NewConfigFromMap(documented)
	if err != nil {
		t.Fatalf("_example does not parse: %v", err)
	}
	if diff := cmp.Diff(settings.DefaultConfig(), got); diff != "" {
		t.Errorf("_example documents other values than the defaults (-defaults +_example):\n%s", diff)
	}
	for _, key := range []string{settings.CollectorProtocolKey, settings.CollectorEndpointKey, settings.CollectorHTTPEndpointKey,
		settings.ZipkinEndpointKey, settings.SamplingRateKey, settings.PropagatorsKey, settings.KntraceQueueProxyKey,
		settings.QueueSidecarImageKey, settings.ManageKnativeConfigKey, settings.SamplingModeKey,
		settings.RelayMaxBytesKey, settings.RelayMaxRequestBytesKey, settings.RelayDrainTimeoutKey} {
		if _, ok := documented[key]; !ok {
			t.Errorf("_example does not document %s", key)
		}
	}
}
