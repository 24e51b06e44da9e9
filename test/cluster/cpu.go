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
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CPU is what CPUUsage read: the CPU time each container has used since it
// started, keyed by its containerd ID, with the container's name.
type CPU map[string]ContainerCPU

// ContainerCPU is one container's CPU time.
type ContainerCPU struct {
	Name string // the container's name in its pod (activator, queue-proxy, …)
	Used time.Duration
}

// Since returns, per container name, the CPU time used between earlier and
// u; a container that earlier did not hold counts from its start.
func (u CPU) Since(earlier CPU) map[string]time.Duration {
	out := map[string]time.Duration{}
	for id, c := range u {
		out[c.Name] += c.Used - earlier[id].Used
	}
	return out
}

// CPUUsage reads the CPU time of every running container of the pods in ns
// that match selector, from the kernel's accounting of their cgroups (the
// kubelet puts each container in one of its own): a clock the programs in
// the containers do not own, counting every thread, the Go runtime's
// included.
func (c *Cluster) CPUUsage(ctx context.Context, ns, selector string) (CPU, error) {
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	acct, err := cpuAccounting()
	if err != nil {
		return nil, err
	}
	u := CPU{}
	for _, p := range pods.Items {
		pod := filepath.Join(acct.root, cgroupRoot, "kubepods", qosDir(string(p.Status.QOSClass)), "pod"+string(p.UID))
		for _, st := range p.Status.ContainerStatuses {
			id, ok := strings.CutPrefix(st.ContainerID, "containerd://")
			if !ok || st.State.Running == nil {
				continue
			}
			used, err := acct.read(filepath.Join(pod, id))
			if err != nil {
				return nil, fmt.Errorf("CPU time of %s/%s container %s: %w", ns, p.Name, st.Name, err)
			}
			u[id] = ContainerCPU{Name: st.Name, Used: used}
		}
	}
	return u, nil
}

// qosDir is the kubelet's cgroup (cgroupfs driver) for a QoS class:
// Guaranteed pods sit directly under kubepods.
func qosDir(class string) string {
	if class == "Guaranteed" || class == "" {
		return ""
	}
	return strings.ToLower(class)
}

// cpuAcct is the hierarchy that accounts CPU time: cgroup v1's cpuacct
// (nanoseconds in cpuacct.usage) or v2's unified one (microseconds as
// usage_usec in cpu.stat).
type cpuAcct struct {
	root string
	v2   bool
}

func cpuAccounting() (cpuAcct, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return cpuAcct{}, err
	}
	for _, m := range mounts {
		if _, err := os.Stat(filepath.Join(m, "cpuacct.usage")); err == nil {
			return cpuAcct{root: m}, nil
		}
		if _, err := os.Stat(filepath.Join(m, "cgroup.controllers")); err == nil {
			return cpuAcct{root: m, v2: true}, nil
		}
	}
	return cpuAcct{}, errors.New("no cgroup hierarchy accounts CPU time (cgroup v1 cpuacct or v2)")
}

func (a cpuAcct) read(dir string) (time.Duration, error) {
	if !a.v2 {
		b, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage"))
		if err != nil {
			return 0, err
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return time.Duration(ns), err
	}
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(v, 10, 64)
			return time.Duration(us) * time.Microsecond, err
		}
	}
	return 0, fmt.Errorf("%s: no usage_usec: %w", filepath.Join(dir, "cpu.stat"), fs.ErrNotExist)
}
