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
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kntrace/kntrace/configmaps"
	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/settings"
	"github.com/kntrace/kntrace/test/apiserver"
	"github.com/kntrace/kntrace/test/proc"
	"github.com/kntrace/kntrace/webhook"
)

// reconcilerLease is the Lease the reconciling half holds.
const reconcilerLease = webhook.LeaseComponent + ".reconciler.00-of-01"

// replica is one cmd/webhook process.
type replica struct {
	name string
	addr string
	p    *proc.Process
}

func (c *cluster) startReplica(t *testing.T, bin, name string) *replica {
	t.Helper()
	ports, err := proc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, addr: "127.0.0.1:" + strconv.Itoa(ports[0])}
	r.p, err = proc.Start(name, bin,
		[]string{"--kubeconfig=" + c.saKubeconfig, "--address=" + r.addr, "--log-level=info",
			"--lease-duration=3s", "--renew-deadline=2s", "--retry-period=250ms"},
		proc.WithEnv("SYSTEM_NAMESPACE="+conventions.SystemNamespace), proc.WithLogDir(c.dir), proc.WithGrace(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.p.Stop)
	return r
}

// admit sends an AdmissionReview straight to the replica, as the API server
// does, and returns the response.
func (r *replica) admit(ctx context.Context, client *http.Client) (*admissionv1.AdmissionResponse, error) {
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("uid-" + r.name),
			Kind:      metav1.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: "Service"},
			Resource:  metav1.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"},
			Operation: admissionv1.Create,
			Namespace: "default",
			Object: runtime.RawExtension{Raw: []byte(`{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"hello","namespace":"default",` +
				`"annotations":{"kntrace.dev/inject":"true"}},"spec":{"template":{"spec":{"containers":[{"image":"example.com/hello"}]}}}}`)},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+r.addr+webhook.AdmissionPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: %w", resp.Status, err)
	}
	if out.Response == nil {
		return nil, fmt.Errorf("%s: no response", resp.Status)
	}
	return out.Response, nil
}

// logHas reports whether the replica's log contains s.
func (r *replica) logHas(t *testing.T, s string) bool {
	t.Helper()
	b, err := os.ReadFile(r.p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}

// holder is the identity holding the reconciler's Lease ("" when none).
func holder(ctx context.Context, c *cluster) (string, error) {
	l, err := c.srv.Client.CoordinationV1().Leases(conventions.SystemNamespace).Get(ctx, reconcilerLease, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if l.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *l.Spec.HolderIdentity, nil
}

func setKntrace(t *testing.T, c *cluster, data map[string]string) {
	t.Helper()
	ctx := ctxT(t)
	cms := c.srv.Client.CoreV1().ConfigMaps(conventions.SystemNamespace)
	cm, err := cms.Get(ctx, settings.ConfigName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range data {
		cm.Data[k] = v
	}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func servingRate(ctx context.Context, c *cluster, want string) error {
	cm, err := cmData(ctx, c.srv.Client, configmaps.ServingNamespace, configmaps.ObservabilityConfigName)
	if err != nil {
		return err
	}
	if got := cm.Data[configmaps.SamplingRateKey]; got != want {
		return fmt.Errorf("%s = %q, want %q", configmaps.SamplingRateKey, got, want)
	}
	return nil
}

// TestTwoReplicas: two webhook processes with the ServiceAccount's RBAC
// against a real API server. Both admit; only the Lease holder converges
// Knative's ConfigMaps; when it dies (SIGKILL, as on a node loss) the other
// takes the Lease and converges the next change of config-kntrace.
func TestTwoReplicas(t *testing.T) {
	bin := webhookBinary(t)
	srv := apiserver.StartForTest(t)
	c, err := startCluster(t, srv, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	replicas := []*replica{c.startReplica(t, bin, "kntrace-webhook-a"), c.startReplica(t, bin, "kntrace-webhook-b")}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	for _, r := range replicas {
		if err := r.p.WaitFor(60*time.Second, r.name+" admits a Service", func(ctx context.Context) error {
			resp, err := r.admit(ctx, client)
			if err != nil {
				return err
			}
			if !resp.Allowed || len(resp.Patch) == 0 || !bytes.Contains(resp.Patch, []byte(conventions.EnvEndpoint)) {
				return fmt.Errorf("allowed %v, patch %s: want an injecting patch", resp.Allowed, resp.Patch)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}

	// Which replica leads: its log names the identity it elects with.
	var leader, follower *replica
	waitFor(t, 30*time.Second, "a holder of "+reconcilerLease, func(ctx context.Context) error {
		id, err := holder(ctx, c)
		if err != nil {
			return err
		}
		for i, r := range replicas {
			if id != "" && r.logHas(t, id) {
				leader, follower = r, replicas[1-i]
				return nil
			}
		}
		return fmt.Errorf("holder %q is neither replica", id)
	})
	t.Logf("%s leads, %s follows", leader.name, follower.name)

	setKntrace(t, c, map[string]string{settings.SamplingModeKey: settings.SamplingModeTail})
	waitFor(t, 30*time.Second, "the leader converging tail mode (rate 1)", func(ctx context.Context) error { return servingRate(ctx, c, "1") })
	const converged = "converged a Knative ConfigMap"
	if !leader.logHas(t, converged) {
		t.Errorf("the leader %s never logged %q", leader.name, converged)
	}
	if follower.logHas(t, converged) {
		t.Errorf("the follower %s converged a ConfigMap: only the Lease holder may write", follower.name)
	}

	// A node loss: the leader dies without releasing the Lease.
	killed := time.Now()
	leader.p.Kill()
	var took time.Duration
	waitFor(t, 30*time.Second, follower.name+" taking "+reconcilerLease, func(ctx context.Context) error {
		id, err := holder(ctx, c)
		if err != nil {
			return err
		}
		if id == "" || !follower.logHas(t, id) {
			return fmt.Errorf("held by %q", id)
		}
		took = time.Since(killed)
		return nil
	})
	t.Logf("failover: %s took the Lease %s after the leader was killed (lease duration 3s)", follower.name, took.Round(100*time.Millisecond))
	setKntrace(t, c, map[string]string{settings.SamplingModeKey: settings.SamplingModeHead, settings.SamplingRateKey: "0.3"})
	waitFor(t, 30*time.Second, "the new leader converging rate 0.3", func(ctx context.Context) error { return servingRate(ctx, c, "0.3") })
	if !follower.logHas(t, converged) {
		t.Errorf("%s took the Lease but never logged %q", follower.name, converged)
	}
	if resp, err := follower.admit(ctxT(t), client); err != nil || !resp.Allowed {
		t.Errorf("%s after the failover: %v, %v; want it still admitting", follower.name, resp, err)
	}
}
