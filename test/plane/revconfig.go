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

package plane

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"knative.dev/pkg/configmap"
	revconfig "knative.dev/serving/pkg/reconciler/revision/config"
)

// ServingNamespace and EventingNamespace are Knative's system namespaces.
const (
	ServingNamespace  = "knative-serving"
	EventingNamespace = "knative-eventing"
)

// configError is how a ConfigMap parse failure leaves Knative's store,
// whose loggers call Fatalf on a bad initial ConfigMap.
type configError struct{ msg string }

// storeLogger turns the store's Fatalf into a panic recovered by
// loadRevisionConfig; everything else is dropped.
type storeLogger struct{}

var _ configmap.Logger = storeLogger{}

func (storeLogger) Debugf(string, ...any) {}
func (storeLogger) Infof(string, ...any)  {}
func (storeLogger) Errorf(string, ...any) {}
func (storeLogger) Fatalf(format string, args ...any) {
	panic(configError{fmt.Sprintf(format, args...)})
}

// loadRevisionConfig reads the live ConfigMaps of knative-serving and builds
// the *config.Config Knative's revision reconciler would hold, with the
// context the defaulting code reads it from.
func loadRevisionConfig(ctx context.Context, kube kubernetes.Interface) (cfg *revconfig.Config, cctx context.Context, err error) {
	list, err := kube.CoreV1().ConfigMaps(ServingNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("list ConfigMaps in %s: %w", ServingNamespace, err)
	}
	cms := make([]*corev1.ConfigMap, 0, len(list.Items))
	for i := range list.Items {
		cms = append(cms, &list.Items[i])
	}
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case configError:
				err = fmt.Errorf("knative-serving ConfigMaps: %s", e.msg)
			case string:
				// StaticWatcher panics on a ConfigMap that does not exist.
				err = fmt.Errorf("knative-serving ConfigMaps: %s (apply Knative's serving and networking ConfigMaps)", e)
			default:
				panic(r)
			}
		}
	}()
	store := revconfig.NewStore(storeLogger{})
	store.WatchConfigs(configmap.NewStaticWatcher(cms...))
	return store.Load(), store.ToContext(ctx), nil
}
