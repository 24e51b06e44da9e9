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
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/kntrace/kntrace/test/proc"
)

// CNIBinDir is where Debian's containernetworking-plugins puts the plugins.
const CNIBinDir = "/usr/lib/cni"

func (c *Cluster) containerdDir() string { return filepath.Join(c.Dir, "containerd") }
func (c *Cluster) containerdSocket() string {
	return filepath.Join(c.containerdDir(), "containerd.sock")
}
func (c *Cluster) cniConfDir() string { return filepath.Join(c.Dir, "cni", "net.d") }

// startContainerd writes containerd's own configuration (root, state,
// sockets, runc state, CNI and registry configuration all under the state
// directory; the machine's /etc/containerd is not read) and starts it.
func (c *Cluster) startContainerd(pauseImage string) error {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return fmt.Errorf("containerd is not installed: run hack/apt.sh (Debian's containerd, runc and containernetworking-plugins)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return fmt.Errorf("runc is not installed: run hack/apt.sh")
	}
	if _, err := os.Stat(filepath.Join(CNIBinDir, "bridge")); err != nil {
		return fmt.Errorf("the CNI plugins are not in %s: run hack/apt.sh (containernetworking-plugins)", CNIBinDir)
	}
	dir := c.containerdDir()
	certs := filepath.Join(dir, "certs.d")
	for _, d := range []string{dir, certs, c.cniConfDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := c.writeRegistryHosts(certs); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
# Plugins this cluster does not use; the opt plugin would create /opt/containerd.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
]

# The CRI calls' spans, to kntrace's podstart (TracingEndpoint), as
# docs/cold-start.md tells a user. Debian's containerd 1.6 is built without
# these plugins (the sections are then ignored): its task events are the
# scenarios' record of a pod's start on containerd's clock.
[plugins."io.containerd.tracing.processor.v1.otlp"]
  endpoint = %[11]q
  protocol = "grpc"
  insecure = true
[plugins."io.containerd.internal.v1.tracing"]
  sampling_ratio = 1.0
  service_name = "containerd"

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

# The legacy v1 runtime must load (the task service needs it); its state
# goes under the state directory too.
[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = %[10]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # root here lacks CAP_SYS_RESOURCE: the kubelet's oom_score_adj of -998
  # for sandboxes would fail every pod.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[6]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[9]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.containerdSocket(), c.containerdSocket()+".ttrpc",
		pauseImage, filepath.Join(dir, "runc"), CNIBinDir, c.cniConfDir(), certs, filepath.Join(dir, "runc-v1"), TracingEndpoint)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	p, err := proc.Start("containerd", bin, []string{"--config", cfgPath, "--log-level", "warn"},
		proc.WithLogDir(c.logDir()), proc.WithGrace(10*time.Second))
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p.WaitFor(c.cfg.readyTimeout, "its socket", func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", c.containerdSocket())
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// writeRegistryHosts tells containerd to pull from the local registry over
// plain HTTP, also for unqualified image names (Docker Hub's namespace,
// such as the Collector and Jaeger images config/ names): nothing is ever
// pulled from the internet.
func (c *Cluster) writeRegistryHosts(certs string) error {
	hosts := map[string]string{c.Registry.Host: c.Registry.Host, "docker.io": c.Registry.Host}
	for name, target := range hosts {
		d := filepath.Join(certs, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		body := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n",
			"http://"+target, "http://"+target)
		if err := os.WriteFile(filepath.Join(d, "hosts.toml"), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeCNIConfig writes the pod network: a bridge (gateway, hairpin for a
// pod reaching itself through a Service), host-local addresses from the
// node's pod CIDR, and portmap for hostPorts. containerd watches the
// directory and reports the network ready once the file is written.
func (c *Cluster) writeCNIConfig(podCIDR netip.Prefix) error {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "kntrace",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      podBridge,
				"isGateway":   true,
				"hairpinMode": true,
				"ipMasq":      false,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  [][]map[string]string{{{"subnet": podCIDR.String()}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
					"dataDir": filepath.Join(c.Dir, "cni", "ipam"),
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	// Written in place, not renamed into place: containerd 1.6 reloads on a
	// write event and ignores the create event a rename makes.
	return os.WriteFile(filepath.Join(c.cniConfDir(), "10-kntrace.conflist"), b, 0o644)
}
