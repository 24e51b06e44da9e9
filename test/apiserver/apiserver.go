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

package apiserver

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/proc"
)

// ReadyTimeout bounds the wait for etcd and the API server to answer.
const ReadyTimeout = 60 * time.Second

type config struct {
	dir string
}

// Option configures Start.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithDir keeps state (etcd data, certificates, logs, kubeconfig) in dir
// instead of a new temporary directory, which Stop then leaves in place.
func WithDir(dir string) Option { return optionFunc(func(c *config) { c.dir = dir }) }

// Server is a running etcd + kube-apiserver pair.
type Server struct {
	// Dir holds the state, the logs and the kubeconfig.
	Dir string
	// Kubeconfig is the path of a kubeconfig for a cluster admin.
	Kubeconfig string
	// URL is the API server's https URL.
	URL string
	// Config is a client config for a cluster admin.
	Config *rest.Config
	// Client is a clientset on Config.
	Client kubernetes.Interface

	ownDir    bool
	etcd      *proc.Process
	apiserver *proc.Process
}

// Start launches etcd and kube-apiserver on free loopback ports and waits
// until the API server reports ready.
func Start(ctx context.Context, opts ...Option) (s *Server, err error) {
	var cfg config
	for _, o := range opts {
		o.apply(&cfg)
	}
	etcdBin, err := binaries.Path(binaries.Etcd)
	if err != nil {
		return nil, err
	}
	apiBin, err := binaries.Path(binaries.KubeAPIServer)
	if err != nil {
		return nil, err
	}
	srv := &Server{Dir: cfg.dir}
	if srv.Dir == "" {
		if srv.Dir, err = os.MkdirTemp("", "kntrace-apiserver-"); err != nil {
			return nil, err
		}
		srv.ownDir = true
	} else if err := os.MkdirAll(srv.Dir, 0o755); err != nil {
		return nil, err
	}
	s = srv
	// On failure, stop what was started: through srv, since the named
	// result is nil once an error is returned.
	defer func() {
		if err != nil {
			srv.Stop()
		}
	}()

	ports, err := proc.FreePorts(3)
	if err != nil {
		return nil, err
	}
	clientPort, peerPort, securePort := ports[0], ports[1], ports[2]
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	s.etcd, err = proc.Start("etcd", etcdBin, []string{
		"--data-dir=" + filepath.Join(s.Dir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=http://127.0.0.1:" + strconv.Itoa(peerPort),
		"--initial-advertise-peer-urls=http://127.0.0.1:" + strconv.Itoa(peerPort),
		"--initial-cluster=default=http://127.0.0.1:" + strconv.Itoa(peerPort),
		"--unsafe-no-fsync",
		"--log-level=warn",
	}, proc.WithLogDir(s.Dir), proc.WithGrace(5*time.Second))
	if err != nil {
		return nil, err
	}
	if err := s.etcd.WaitFor(ReadyTimeout, "etcd health", proc.HTTPReady(nil, etcdURL+"/health")); err != nil {
		return nil, err
	}

	token, err := writeAuthFiles(s.Dir)
	if err != nil {
		return nil, err
	}
	s.URL = "https://127.0.0.1:" + strconv.Itoa(securePort)
	s.apiserver, err = proc.Start("kube-apiserver", apiBin, []string{
		"--etcd-servers=" + etcdURL,
		"--cert-dir=" + filepath.Join(s.Dir, "certs"),
		"--secure-port=" + strconv.Itoa(securePort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		"--authorization-mode=RBAC",
		"--token-auth-file=" + filepath.Join(s.Dir, "tokens.csv"),
		"--service-account-issuer=" + s.URL,
		"--service-account-key-file=" + filepath.Join(s.Dir, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(s.Dir, "sa.key"),
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--endpoint-reconciler-type=none",
	}, proc.WithLogDir(s.Dir), proc.WithGrace(10*time.Second))
	if err != nil {
		return nil, err
	}

	s.Config = &rest.Config{
		Host:            s.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             200,
		Burst:           400,
	}
	readyClient, err := rest.HTTPClientFor(s.Config)
	if err != nil {
		return nil, err
	}
	if err := s.apiserver.WaitFor(ReadyTimeout, "/readyz", proc.HTTPReady(readyClient, s.URL+"/readyz")); err != nil {
		return nil, err
	}
	// The serving certificate is self-signed and written once the server is
	// up: trust it rather than skipping verification.
	if ca, err := os.ReadFile(filepath.Join(s.Dir, "certs", "apiserver.crt")); err == nil {
		s.Config.TLSClientConfig = rest.TLSClientConfig{CAData: ca}
	}
	if s.Client, err = kubernetes.NewForConfig(s.Config); err != nil {
		return nil, err
	}
	s.Kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	if err := writeKubeconfig(s.Kubeconfig, s.Config); err != nil {
		return nil, err
	}
	if err := waitForDefaultNamespace(ctx, s.Client); err != nil {
		return nil, err
	}
	return s, nil
}

// StartForTest starts a server for the test and stops it when the test ends.
func StartForTest(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s, err := Start(context.Background(), opts...)
	if err != nil {
		tb.Fatalf("start kube-apiserver: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Stop stops the API server and etcd and removes the state directory if
// Start created it. It is safe on a nil Server.
func (s *Server) Stop() {
	if s == nil {
		return
	}
	if s.apiserver != nil {
		s.apiserver.Stop()
	}
	if s.etcd != nil {
		s.etcd.Stop()
	}
	if s.ownDir && os.Getenv("KNTRACE_KEEP_STATE") == "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// LogTail returns the end of the API server's log, for failure messages.
func (s *Server) LogTail(n int) string {
	if s.apiserver == nil {
		return ""
	}
	return s.apiserver.LogTail(n)
}

func writeAuthFiles(dir string) (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw)
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		return "", err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return "", err
	}
	return token, nil
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kntrace-local"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
		InsecureSkipTLSVerify:    cfg.Insecure,
	}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["kntrace-local"] = &clientcmdapi.Context{Cluster: "kntrace-local", AuthInfo: "admin"}
	kc.CurrentContext = "kntrace-local"
	return clientcmd.WriteToFile(*kc, path)
}

// waitForDefaultNamespace waits for the namespace controller's bootstrap so
// that tests can create objects in "default" straight away.
func waitForDefaultNamespace(ctx context.Context, c kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req := c.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces/default")
		res := req.Do(ctx)
		var code int
		res.StatusCode(&code)
		if last = res.Error(); last == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("namespace default did not appear within %s", ReadyTimeout), last)
		case <-tick.C:
		}
	}
}
