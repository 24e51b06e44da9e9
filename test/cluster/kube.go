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
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kntrace/kntrace/test/binaries"
	"github.com/kntrace/kntrace/test/proc"
)

// Fixed ports on NodeIP (the node's own address: nothing else listens there).
const (
	APIServerPort = 6443
	KubeletPort   = 10250
)

// NodeName is the name of the cluster's one Node.
const NodeName = "kntrace"

// ClusterDomain is the cluster's DNS domain.
const ClusterDomain = "cluster.local"

// kubeFiles are the certificates and kubeconfigs of the control plane.
type kubeFiles struct {
	pki                                 *pki
	apiserverCert, apiserverKey         string
	kubeletClientCert, kubeletClientKey string
	kubeletCert, kubeletKey             string
	frontProxyCert, frontProxyKey       string
	saKey, saPub                        string
	admin, controllerManager, scheduler string
	kubelet, proxy                      string
}

// makeKubeFiles issues every certificate and writes every kubeconfig.
func makeKubeFiles(dir string) (*kubeFiles, error) {
	p, err := newPKI(filepath.Join(dir, "pki"))
	if err != nil {
		return nil, err
	}
	f := &kubeFiles{pki: p}
	nodeIP := net.IP(NodeIP.AsSlice())
	if f.apiserverCert, f.apiserverKey, err = p.issue("apiserver", certSpec{
		cn:     "kube-apiserver",
		ips:    []net.IP{nodeIP, net.IPv4(127, 0, 0, 1), net.IP(APIServiceIP.AsSlice())},
		dns:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + ClusterDomain},
		server: true,
	}); err != nil {
		return nil, err
	}
	if f.kubeletClientCert, f.kubeletClientKey, err = p.issue("apiserver-kubelet-client", certSpec{
		cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}, client: true,
	}); err != nil {
		return nil, err
	}
	if f.kubeletCert, f.kubeletKey, err = p.issue("kubelet", certSpec{
		cn: NodeName, ips: []net.IP{nodeIP}, dns: []string{NodeName}, server: true,
	}); err != nil {
		return nil, err
	}
	// The aggregation layer's client, so that the controllers' delegated
	// authentication finds the request-header CA it looks up.
	if f.frontProxyCert, f.frontProxyKey, err = p.issue("front-proxy-client", certSpec{
		cn: "front-proxy-client", client: true,
	}); err != nil {
		return nil, err
	}
	if f.saKey, f.saPub, err = p.keyPair("sa"); err != nil {
		return nil, err
	}
	server := "https://" + net.JoinHostPort(NodeIP.String(), strconv.Itoa(APIServerPort))
	for _, kc := range []struct {
		path *string
		name string
		spec certSpec
	}{
		{&f.admin, "admin", certSpec{cn: "kntrace-admin", orgs: []string{"system:masters"}}},
		{&f.controllerManager, "controller-manager", certSpec{cn: "system:kube-controller-manager"}},
		{&f.scheduler, "scheduler", certSpec{cn: "system:kube-scheduler"}},
		{&f.kubelet, "kubelet-client", certSpec{cn: "system:node:" + NodeName, orgs: []string{"system:nodes"}}},
		{&f.proxy, "proxy", certSpec{cn: "system:kube-proxy"}},
	} {
		kc.spec.client = true
		cert, key, err := p.issue(kc.name, kc.spec)
		if err != nil {
			return nil, err
		}
		*kc.path = filepath.Join(dir, kc.name+".kubeconfig")
		if err := writeKubeconfig(*kc.path, server, p.CA, cert, key); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// writeKubeconfig writes a kubeconfig with the certificates embedded, so
// that it can be copied anywhere.
func writeKubeconfig(path, server, ca, cert, key string) error {
	read := func(p string) ([]byte, error) { return os.ReadFile(p) }
	caData, err := read(ca)
	if err != nil {
		return err
	}
	certData, err := read(cert)
	if err != nil {
		return err
	}
	keyData, err := read(key)
	if err != nil {
		return err
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kntrace"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caData}
	kc.AuthInfos["kntrace"] = &clientcmdapi.AuthInfo{ClientCertificateData: certData, ClientKeyData: keyData}
	kc.Contexts["kntrace"] = &clientcmdapi.Context{Cluster: "kntrace", AuthInfo: "kntrace"}
	kc.CurrentContext = "kntrace"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// startProcess starts a cluster binary with its log in Dir/logs and keeps
// it for Stop.
func (c *Cluster) startProcess(name, binary string, args []string, opts ...proc.Option) (*proc.Process, error) {
	bin, err := binaries.Path(binary)
	if err != nil {
		return nil, err
	}
	opts = append([]proc.Option{proc.WithLogDir(c.logDir()), proc.WithGrace(10 * time.Second)}, opts...)
	p, err := proc.Start(name, bin, args, opts...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

func (c *Cluster) logDir() string { return filepath.Join(c.Dir, "logs") }

// startEtcdAndAPIServer starts etcd and kube-apiserver and waits until the
// API server is ready.
func (c *Cluster) startEtcdAndAPIServer(ctx context.Context) error {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	etcd, err := c.startProcess("etcd", binaries.Etcd, []string{
		"--name=kntrace",
		"--data-dir=" + filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=kntrace=" + peerURL,
		"--listen-metrics-urls=",
		"--unsafe-no-fsync",
		"--log-level=warn",
	}, proc.WithGrace(5*time.Second))
	if err != nil {
		return err
	}
	if err := etcd.WaitFor(c.cfg.readyTimeout, "etcd health", proc.HTTPReady(nil, etcdURL+"/health")); err != nil {
		return err
	}
	f := c.files
	// Its requests' spans, to kntrace's podstart (docs/cold-start.md).
	tracingConfig := filepath.Join(c.Dir, "kube-apiserver-tracing.yaml")
	if err := os.WriteFile(tracingConfig, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: TracingConfiguration\nendpoint: "+TracingEndpoint+"\nsamplingRatePerMillion: 1000000\n"), 0o644); err != nil {
		return err
	}
	apiserver, err := c.startProcess("kube-apiserver", binaries.KubeAPIServer, []string{
		"--tracing-config-file=" + tracingConfig,
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + NodeIP.String(),
		"--advertise-address=" + NodeIP.String(),
		"--secure-port=" + strconv.Itoa(APIServerPort),
		"--cert-dir=" + filepath.Join(c.Dir, "kube-apiserver"),
		"--tls-cert-file=" + f.apiserverCert,
		"--tls-private-key-file=" + f.apiserverKey,
		"--client-ca-file=" + f.pki.CA,
		"--kubelet-client-certificate=" + f.kubeletClientCert,
		"--kubelet-client-key=" + f.kubeletClientKey,
		"--kubelet-certificate-authority=" + f.pki.CA,
		"--kubelet-preferred-address-types=InternalIP",
		"--proxy-client-cert-file=" + f.frontProxyCert,
		"--proxy-client-key-file=" + f.frontProxyKey,
		"--requestheader-client-ca-file=" + f.pki.CA,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--service-account-issuer=https://kubernetes.default.svc." + ClusterDomain,
		"--service-account-key-file=" + f.saPub,
		"--service-account-signing-key-file=" + f.saKey,
		"--service-cluster-ip-range=" + ServiceCIDR.String(),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"--v=1",
	})
	if err != nil {
		return err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", f.admin); err != nil {
		return err
	}
	c.Config.QPS, c.Config.Burst = 100, 200
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return err
	}
	return apiserver.WaitFor(c.cfg.readyTimeout, "/readyz", proc.HTTPReady(hc, c.Config.Host+"/readyz"))
}

// startControllers starts kube-controller-manager and kube-scheduler.
func (c *Cluster) startControllers() error {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	f := c.files
	if _, err := c.startProcess("kube-controller-manager", binaries.KubeControllerManager, []string{
		"--kubeconfig=" + f.controllerManager,
		"--authentication-kubeconfig=" + f.controllerManager,
		"--authorization-kubeconfig=" + f.controllerManager,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[0]),
		"--cert-dir=" + filepath.Join(c.Dir, "kube-controller-manager"),
		"--allocate-node-cidrs",
		"--cluster-cidr=" + PodCIDR.String(),
		"--node-cidr-mask-size=24",
		"--service-cluster-ip-range=" + ServiceCIDR.String(),
		"--use-service-account-credentials",
		"--cluster-signing-cert-file=" + f.pki.CA,
		"--cluster-signing-key-file=" + filepath.Join(filepath.Dir(f.pki.CA), "ca.key"),
		"--root-ca-file=" + f.pki.CA,
		"--service-account-private-key-file=" + f.saKey,
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	}); err != nil {
		return err
	}
	_, err = c.startProcess("kube-scheduler", binaries.KubeScheduler, []string{
		"--kubeconfig=" + f.scheduler,
		"--authentication-kubeconfig=" + f.scheduler,
		"--authorization-kubeconfig=" + f.scheduler,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(ports[1]),
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	})
	return err
}

// startKubelet writes the kubelet's configuration and starts it.
func (c *Cluster) startKubelet() error {
	dir := filepath.Join(c.Dir, "kubelet")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Pods with dnsPolicy Default get this: there is no upstream DNS.
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("# kntrace's local cluster has no upstream DNS\noptions ndots:1\n"), 0o644); err != nil {
		return err
	}
	ports, err := proc.FreePorts(1)
	if err != nil {
		return err
	}
	f := c.files
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: %[2]d
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %[3]d
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[4]s
authorization:
  mode: Webhook
tlsCertFile: %[5]s
tlsPrivateKeyFile: %[6]s
# Kubernetes 1.35 refuses cgroup v1 unless told (KEP-5573); these hosts
# mount v1 controllers.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%[7]s
containerRuntimeEndpoint: unix://%[8]s
imageServiceEndpoint: unix://%[8]s
clusterDNS:
- %[9]s
clusterDomain: %[10]s
resolvConf: %[11]s
volumePluginDir: %[12]s
podLogsDir: %[13]s
# true refuses to start unless the host already has the kubelet's values.
protectKernelDefaults: false
failSwapOn: false
serializeImagePulls: false
# A shared developer disk: evict and collect images only when nearly full.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
  imagefs.inodesFree: 1%%
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
maxPods: 250
# Every pod start's spans, to kntrace's podstart (docs/cold-start.md).
tracing:
  endpoint: %[14]s
  samplingRatePerMillion: 1000000
`, NodeIP, KubeletPort, ports[0], f.pki.CA, f.kubeletCert, f.kubeletKey, cgroupRoot,
		c.containerdSocket(), DNSServiceIP, ClusterDomain, resolv,
		filepath.Join(dir, "volume-plugins"), filepath.Join(dir, "pod-logs"), TracingEndpoint)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	_, err = c.startProcess("kubelet", binaries.Kubelet, []string{
		"--config=" + cfgPath,
		"--kubeconfig=" + f.kubelet,
		"--root-dir=" + filepath.Join(dir, "root"),
		"--cert-dir=" + filepath.Join(dir, "pki"),
		"--node-ip=" + NodeIP.String(),
		"--hostname-override=" + NodeName,
		"--v=1",
	})
	return err
}

// startKubeProxy starts kube-proxy in iptables mode, NodePorts on the node
// address only, leaving the host's conntrack settings alone.
func (c *Cluster) startKubeProxy() error {
	dir := filepath.Join(c.Dir, "kube-proxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %[1]s
mode: iptables
hostnameOverride: %[2]s
bindAddress: %[3]s
healthzBindAddress: 127.0.0.1:%[4]d
metricsBindAddress: 127.0.0.1:%[5]d
clusterCIDR: %[6]s
nodePortAddresses:
- %[3]s/32
iptables:
  minSyncPeriod: 200ms
  syncPeriod: 30s
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, c.files.proxy, NodeName, NodeIP, ports[0], ports[1], PodCIDR)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	p, err := c.startProcess("kube-proxy", binaries.KubeProxy, []string{"--config=" + cfgPath, "--v=1"})
	if err != nil {
		return err
	}
	return p.WaitFor(c.cfg.readyTimeout, "kube-proxy /healthz", func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(ports[0])+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		// 503 until the first sync with the API server; any answer is a
		// running proxy, the first ClusterIP test proves the rules.
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("kube-proxy healthz: %s", resp.Status)
		}
		return nil
	})
}
