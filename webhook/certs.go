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
	"crypto/tls"
	"sync"

	"go.uber.org/zap"
	corelisters "k8s.io/client-go/listers/core/v1"
	"knative.dev/pkg/system"
	certresources "knative.dev/pkg/webhook/certificates/resources"
)

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
