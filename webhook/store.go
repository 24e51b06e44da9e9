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
	"sync/atomic"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"

	"github.com/kntrace/kntrace/settings"
)

// configStore holds the last valid config-kntrace.
type configStore struct {
	logger *zap.SugaredLogger
	cfg    atomic.Pointer[settings.Config]
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
	cfg, err := settings.NewConfigFromConfigMap(cm)
	if err != nil {
		s.logger.Errorw("invalid "+settings.ConfigName+"; keeping the last valid one", zap.Error(err))
		return
	}
	s.present.Store(true)
	s.cfg.Store(cfg)
}

func (s *configStore) get() *settings.Config {
	if c := s.cfg.Load(); c != nil {
		return c
	}
	return settings.DefaultConfig()
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
