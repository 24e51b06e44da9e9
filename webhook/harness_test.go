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

package webhook_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/revisions"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/manifests"
	"github.com/kntrace/kntrace/test/proc"
	"github.com/kntrace/kntrace/webhook"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if sharedCluster != nil {
		sharedCluster.stop()
	}
	os.Exit(code)
}

// webhookBinary builds cmd/webhook once per test binary.
func webhookBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "kntrace-webhook-bin-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "kntrace-webhook")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/kntrace/kntrace/cmd/webhook").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build cmd/webhook: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// cluster is a real API server with Knative's CRDs and ConfigMaps, kntrace's
// namespace, RBAC and config-kntrace from config/, and a certificate for
// 127.0.0.1 in the Secret knative.dev/pkg's certificates controller reads.
type cluster struct {
	srv     *apiserver.Server
	serving servingclient.Interface
	caPEM   []byte
	// saKubeconfig authenticates as the kntrace-webhook ServiceAccount, so
	// the webhook runs with exactly config/200-rbac.yaml's permissions.
	saKubeconfig string
	dir          string
	port         int
	process      *proc.Process
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// startCluster applies Knative's sets (default: Serving and Eventing).
func startCluster(tb testing.TB, srv *apiserver.Server, dir string, knative ...manifests.Set) (*cluster, error) {
	ctx := context.Background()
	if len(knative) == 0 {
		knative = []manifests.Set{manifests.ServingCore, manifests.EventingCore}
	}
	if err := manifests.ApplySets(ctx, srv.Config, knative...); err != nil {
		return nil, fmt.Errorf("apply Knative: %w", err)
	}
	a, err := manifests.NewApplier(srv.Config)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"100-namespace.yaml", "200-rbac.yaml", "300-config-kntrace.yaml"} {
		o, err := manifests.ReadFile(filepath.Join("..", "config", f))
		if err != nil {
			return nil, err
		}
		if err := a.Apply(ctx, o); err != nil {
			return nil, fmt.Errorf("apply config/%s: %w", f, err)
		}
	}
	c := &cluster{srv: srv, dir: dir}
	if c.serving, err = servingclient.NewForConfig(srv.Config); err != nil {
		return nil, err
	}
	caPEM, certPEM, keyPEM, err := loopbackCertificate()
	if err != nil {
		return nil, err
	}
	c.caPEM = caPEM
	if _, err := srv.Client.CoreV1().Secrets(conventions.SystemNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: webhook.SecretName, Namespace: conventions.SystemNamespace},
		Data:       map[string][]byte{"server-key.pem": keyPEM, "server-cert.pem": certPEM, "ca-cert.pem": caPEM},
	}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	tok, err := srv.Client.CoreV1().ServiceAccounts(conventions.SystemNamespace).CreateToken(ctx, "kntrace-webhook",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for the kntrace-webhook ServiceAccount: %w", err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: srv.URL, InsecureSkipTLSVerify: true}
	kc.AuthInfos["kntrace-webhook"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "kntrace-webhook"}
	kc.CurrentContext = "local"
	c.saKubeconfig = filepath.Join(dir, "kntrace-webhook.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, c.saKubeconfig); err != nil {
		return nil, err
	}
	return c, nil
}

func ptr[T any](v T) *T { return &v }

// loopbackCertificate returns a CA and a serving certificate for 127.0.0.1,
// the shape knative.dev/pkg's certificates controller writes (it keeps a
// valid certificate as it is).
func loopbackCertificate() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kntrace test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"kntrace-webhook.kntrace-system.svc"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// startWebhook runs cmd/webhook on a free loopback port and registers it
// with a URL MutatingWebhookConfiguration, then waits until the API server
// actually calls it.
func (c *cluster) startWebhook(tb testing.TB, bin, level string) error {
	ports, err := proc.FreePorts(1)
	if err != nil {
		return err
	}
	c.port = ports[0]
	addr := "127.0.0.1:" + strconv.Itoa(c.port)
	c.process, err = proc.Start("kntrace-webhook", bin,
		[]string{"--kubeconfig=" + c.saKubeconfig, "--address=" + addr, "--log-level=" + level},
		proc.WithEnv("SYSTEM_NAMESPACE="+conventions.SystemNamespace), proc.WithLogDir(c.dir), proc.WithGrace(10*time.Second))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := c.process.WaitFor(60*time.Second, "TLS readiness with the 127.0.0.1 certificate", func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
		req.Header.Set("User-Agent", "kube-probe/1.35")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("probe: %s", resp.Status)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.registerWebhook(tb)
}

func (c *cluster) registerWebhook(tb testing.TB) error {
	ctx := context.Background()
	url := "https://127.0.0.1:" + strconv.Itoa(c.port) + webhook.AdmissionPath
	// The shipped configuration, with the in-cluster Service replaced by a
	// URL on loopback.
	mwc, err := shippedWebhookConfiguration()
	if err != nil {
		return err
	}
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: c.caPEM}
	}
	mwcs := c.srv.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if err := mwcs.Delete(ctx, mwc.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if _, err := mwcs.Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		return err
	}
	// The API server picks the configuration up asynchronously: wait until a
	// dry-run create comes back injected.
	return c.process.WaitFor(30*time.Second, "the API server calling the webhook", func(ctx context.Context) error {
		got, err := c.serving.ServingV1().Services("default").Create(ctx, annotated("probe", nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if !revisions.Injected(&got.Spec.Template) {
			return fmt.Errorf("dry-run Service not injected yet")
		}
		return nil
	})
}

// shippedWebhookConfiguration reads the MutatingWebhookConfiguration in
// config/500-webhook.yaml.
func shippedWebhookConfiguration() (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	objs, err := manifests.ReadFile(filepath.Join("..", "config", "500-webhook.yaml"))
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.GetKind() != "MutatingWebhookConfiguration" {
			continue
		}
		var mwc admissionregistrationv1.MutatingWebhookConfiguration
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &mwc); err != nil {
			return nil, err
		}
		return &mwc, nil
	}
	return nil, fmt.Errorf("config/500-webhook.yaml has no MutatingWebhookConfiguration")
}

// annotated is a minimal Knative Service asking for tracing, plus extra
// metadata annotations.
func annotated(name string, extra map[string]string) *servingv1.Service {
	ann := map[string]string{conventions.InjectAnnotation: "true"}
	for k, v := range extra {
		ann[k] = v
	}
	return plain(name, ann)
}

func plain(name string, ann map[string]string) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}}
	s.Spec.Template.Spec.Containers = []corev1.Container{{Image: "example.com/hello", Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}}}
	return s
}

// sharedCluster serves the benchmark across its runs; TestMain stops it.
var sharedCluster *benchCluster

type benchCluster struct {
	*cluster
}

func (b *benchCluster) stop() {
	if b.process != nil {
		b.process.Stop()
	}
	b.srv.Stop()
}

// TestShippedWebhookConfiguration: config/ and the code agree on names, and
// the webhook can never block a deploy.
func TestShippedWebhookConfiguration(t *testing.T) {
	mwc, err := shippedWebhookConfiguration()
	if err != nil {
		t.Fatal(err)
	}
	if mwc.Name != conventions.WebhookConfigurationName {
		t.Errorf("name %q, want %q", mwc.Name, conventions.WebhookConfigurationName)
	}
	if len(mwc.Webhooks) == 0 {
		t.Fatal("no webhooks")
	}
	for _, w := range mwc.Webhooks {
		if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Ignore {
			t.Errorf("%s: failurePolicy %v, want Ignore", w.Name, w.FailurePolicy)
		}
		if w.TimeoutSeconds == nil || *w.TimeoutSeconds > 5 {
			t.Errorf("%s: timeoutSeconds %v, want a short one (≤ 5)", w.Name, w.TimeoutSeconds)
		}
		svc := w.ClientConfig.Service
		if svc == nil || svc.Name != webhook.ServiceName || svc.Namespace != conventions.SystemNamespace || svc.Path == nil || *svc.Path != webhook.AdmissionPath {
			t.Errorf("%s: clientConfig.service %+v, want %s/%s path %s", w.Name, svc, conventions.SystemNamespace, webhook.ServiceName, webhook.AdmissionPath)
		}
	}
	objs, err := manifests.ReadFile(filepath.Join("..", "config", "500-webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, o := range objs {
		names[o.GetKind()] = o.GetName()
	}
	if names["Secret"] != webhook.SecretName || names["Service"] != webhook.ServiceName {
		t.Errorf("Secret %q and Service %q, want %q and %q", names["Secret"], names["Service"], webhook.SecretName, webhook.ServiceName)
	}
}
