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

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/proc"
)

// TraefikIngressClass is the Knative ingress class of Traefik's provider
// (config-network ingress-class).
const TraefikIngressClass = "traefik.ingress.networking.knative.dev"

// Traefik's place in the cluster: it runs as a host process; pods reach it
// through two selector-less Services in TraefikNamespace whose endpoints
// are its entry points on NodeIP (Knative writes their names into each
// KIngress status, and a Route's cluster-local name resolves to the private
// one).
const (
	TraefikNamespace = "traefik"
	// traefikNodePublicPort and traefikPrivatePort are its entry points on
	// NodeIP for pods (public and cluster-local routes).
	traefikNodePublicPort = 31080
	traefikPrivatePort    = 31081
)

// InstallTraefik starts Traefik v3.6.12 with its Knative provider as the
// cluster's ingress: public routes on IngressAddr (loopback, for the
// machine) and on NodeIP for pods, cluster-local routes on NodeIP. Install
// Serving first (the provider watches Knative's Ingress CRD).
func (c *Cluster) InstallTraefik(ctx context.Context) error {
	return c.step("Traefik (Knative ingress)", func() error { return c.installTraefik(ctx) })
}

func (c *Cluster) installTraefik(ctx context.Context) error {
	if _, err := binaries.Path(binaries.Traefik); err != nil {
		return err
	}
	if err := c.traefikObjects(ctx); err != nil {
		return err
	}
	dir := filepath.Join(c.Dir, "traefik")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Its API client: a certificate for the user the RBAC above names.
	cert, key, err := c.files.pki.issue("traefik", certSpec{cn: traefikUser, client: true})
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, c.Config.Host, c.files.pki.CA, cert, key); err != nil {
		return err
	}
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	if c.IngressAddr == "" {
		c.IngressAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
	}
	c.traefikAPI = "127.0.0.1:" + strconv.Itoa(ports[1])
	node := func(port int) string { return net.JoinHostPort(NodeIP.String(), strconv.Itoa(port)) }
	cfg := fmt.Sprintf(`# Traefik's static configuration for kntrace's local cluster.
global:
  checkNewVersion: false
  sendAnonymousUsage: false
log:
  level: INFO
entryPoints:
  web:
    address: %[1]q
  web-node:
    address: %[2]q
  private:
    address: %[3]q
  traefik:
    address: %[4]q
# Health and the read-only API (routers) on loopback, for WaitRoute.
ping:
  entryPoint: traefik
api:
  insecure: true
  dashboard: false
experimental:
  knative: true
providers:
  # Knative marks a route Ready as soon as Traefik accepted its Ingress;
  # apply the new routers at once rather than after the default 2 s.
  providersThrottleDuration: 100ms
  knative:
    publicEntrypoints: [web, web-node]
    publicService:
      name: traefik
      namespace: %[5]s
    privateEntrypoints: [private]
    privateService:
      name: traefik-private
      namespace: %[5]s
`, c.IngressAddr, node(traefikNodePublicPort), node(traefikPrivatePort), c.traefikAPI, TraefikNamespace)
	cfgPath := filepath.Join(dir, "traefik.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	p, err := c.startProcess("traefik", binaries.Traefik, []string{"--configFile=" + cfgPath},
		proc.WithEnv("KUBECONFIG="+kubeconfig))
	if err != nil {
		return err
	}
	return p.WaitFor(c.cfg.readyTimeout, "/ping", proc.HTTPReady(nil, "http://"+c.traefikAPI+"/ping"))
}

const traefikUser = "kntrace:traefik"

// traefikObjects creates the provider's RBAC and the two Services (with
// endpoints at Traefik's entry points on NodeIP) it names in KIngress
// status.
func (c *Cluster) traefikObjects(ctx context.Context) error {
	kc := c.Client
	opts := metav1.CreateOptions{FieldManager: "kntrace-cluster"}
	create := func(what string, err error) error {
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("Traefik %s: %w", what, err)
		}
		return nil
	}
	if err := create("ClusterRole", func() error {
		_, err := kc.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "kntrace:traefik"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"services", "endpoints", "secrets", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"networking.internal.knative.dev"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"networking.internal.knative.dev"}, Resources: []string{"ingresses/status"}, Verbs: []string{"update", "patch"}},
			},
		}, opts)
		return err
	}()); err != nil {
		return err
	}
	if err := create("ClusterRoleBinding", func() error {
		_, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "kntrace:traefik"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "kntrace:traefik"},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: traefikUser}},
		}, opts)
		return err
	}()); err != nil {
		return err
	}
	if err := create("namespace", func() error {
		_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: TraefikNamespace}}, opts)
		return err
	}()); err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		port int32
	}{{"traefik", traefikNodePublicPort}, {"traefik-private", traefikPrivatePort}} {
		if err := create("Service "+s.name, func() error {
			_, err := kc.CoreV1().Services(TraefikNamespace).Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: TraefikNamespace},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
					{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(s.port)},
				}},
			}, opts)
			return err
		}()); err != nil {
			return err
		}
		if err := create("EndpointSlice "+s.name, func() error {
			_, err := kc.DiscoveryV1().EndpointSlices(TraefikNamespace).Create(ctx, &discoveryv1.EndpointSlice{
				ObjectMeta: metav1.ObjectMeta{
					Name: s.name, Namespace: TraefikNamespace,
					Labels: map[string]string{
						discoveryv1.LabelServiceName: s.name,
						discoveryv1.LabelManagedBy:   "kntrace-cluster",
					},
				},
				AddressType: discoveryv1.AddressTypeIPv4,
				Endpoints: []discoveryv1.Endpoint{{
					Addresses:  []string{NodeIP.String()},
					Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(true)},
					NodeName:   ptrTo(NodeName),
				}},
				Ports: []discoveryv1.EndpointPort{{Name: ptrTo("http"), Port: ptrTo(s.port), Protocol: ptrTo(corev1.ProtocolTCP)}},
			}, opts)
			return err
		}()); err != nil {
			return err
		}
	}
	return nil
}

// NewIngressRequest returns a request for path of the Knative Service name
// in ns through the ingress, as a client outside the cluster sends it (Host
// NAME.NS.example.com).
func (c *Cluster) NewIngressRequest(ctx context.Context, method, ns, name, path string) (*http.Request, error) {
	if c.IngressAddr == "" {
		return nil, fmt.Errorf("no ingress: call InstallTraefik first")
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.IngressAddr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Host = name + "." + ns + "." + Domain
	return req, nil
}

// WaitRoute waits until Traefik routes the Knative Service name in ns on
// its public entry point (Knative reports a route Ready when Traefik has
// accepted its Ingress, a moment before the router serves). It sends no
// request to the Service, so a revision at zero stays there.
func (c *Cluster) WaitRoute(ctx context.Context, ns, name string, timeout time.Duration) error {
	if c.traefikAPI == "" {
		return fmt.Errorf("no ingress: call InstallTraefik first")
	}
	fqdn := name + "." + ns + "." + Domain
	// Traefik's Knative provider quotes with %q; a rule may use backquotes.
	hosts := []string{"Host(" + strconv.Quote(fqdn) + ")", "Host(`" + fqdn + "`)"}
	return c.poll(ctx, timeout, "Traefik routes "+fqdn, func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.traefikAPI+"/api/http/routers?per_page=1000", nil)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error(), nil
		}
		defer resp.Body.Close()
		var routers []struct {
			Rule        string   `json:"rule"`
			Status      string   `json:"status"`
			EntryPoints []string `json:"entryPoints"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&routers); err != nil {
			return err.Error(), nil
		}
		for _, r := range routers {
			if r.Status != "enabled" || !slices.Contains(r.EntryPoints, "web") {
				continue
			}
			if slices.ContainsFunc(hosts, func(h string) bool { return strings.Contains(r.Rule, h) }) {
				return "", nil
			}
		}
		rules := make([]string, 0, len(routers))
		for _, r := range routers {
			rules = append(rules, fmt.Sprintf("%s %v %s", r.Status, r.EntryPoints, r.Rule))
		}
		return fmt.Sprintf("no enabled router on web for %s among %q", fqdn, rules), nil
	})
}
