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
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// hostsFile is the /etc/hosts the plane's components see, bind-mounted over
// /etc/hosts inside their own mount namespaces (never the machine's). It is
// rewritten in place (same inode) so the bind mounts see updates; Go's
// resolver rereads it within 5 s of a change.
type hostsFile struct {
	path string

	mu    sync.Mutex
	names map[string]string // name -> address
}

func newHostsFile(path string) (*hostsFile, error) {
	h := &hostsFile{path: path, names: map[string]string{}}
	for _, n := range []string{
		"autoscaler.knative-serving.svc.cluster.local", "autoscaler.knative-serving.svc",
		"kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "kubernetes.default",
	} {
		h.names[n] = "127.0.0.1"
	}
	return h, h.write()
}

// set maps each name to addr and rewrites the file.
func (h *hostsFile) set(addr string, names ...string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := false
	for _, n := range names {
		if h.names[n] != addr {
			h.names[n] = addr
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return h.writeLocked()
}

func (h *hostsFile) write() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writeLocked()
}

func (h *hostsFile) writeLocked() error {
	byAddr := map[string][]string{}
	for n, a := range h.names {
		byAddr[a] = append(byAddr[a], n)
	}
	addrs := make([]string, 0, len(byAddr))
	for a := range byAddr {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	var b strings.Builder
	b.WriteString("# written by the kntrace local plane\n127.0.0.1 localhost\n::1 localhost\n")
	for _, a := range addrs {
		ns := byAddr[a]
		sort.Strings(ns)
		fmt.Fprintf(&b, "%s %s\n", a, strings.Join(ns, " "))
	}
	// os.WriteFile truncates in place: the inode bind-mounted over
	// /etc/hosts stays the same.
	return os.WriteFile(h.path, []byte(b.String()), 0o644)
}

// serviceNames returns the cluster-local names of service name in ns.
func serviceNames(name, ns string) []string {
	return []string{name + "." + ns + ".svc.cluster.local", name + "." + ns + ".svc", name + "." + ns}
}

// mountWrapper returns the argv prefix that runs a binary in a new mount
// namespace where hostsPath is bind-mounted over /etc/hosts.
func mountWrapper(hostsPath string) []string {
	return []string{"unshare", "-m", "sh", "-c", `mount --bind "$0" /etc/hosts && exec "$@"`, hostsPath}
}
