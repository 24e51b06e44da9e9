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
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Names and addresses the plane owns. Every network namespace and link it
// creates starts with one of these prefixes, which is how a later run finds
// what a crashed one left behind.
const (
	netnsPrefix = "kntrace-pl-"
	vethPrefix  = "ktv"
	// dummyLink (one end of a host-only veth pair) carries ServiceIP, the
	// address pods and eventing components reach the ingress and the
	// Collector at.
	dummyLink = "kntrace0"
	// maxSlots bounds the /30 networks carved from 10.213.0.0/17 (the
	// upper half of 10.213.0.0/16 is left to other tests; ServiceIP is at
	// its very end).
	maxSlots = 128 * 64
)

// ServiceIP is the host address (on a dummy link the plane creates) where
// pods and eventing components reach the ingress (port 80) and the
// Collector's forwarders. It is routable from every pod network namespace.
var ServiceIP = netip.MustParseAddr("10.213.255.254")

// netns is one network namespace with a veth pair: host side .1 and
// namespace side .2 of a private /30.
type netns struct {
	Name   string
	Slot   int
	HostIP netip.Addr
	PodIP  netip.Addr
	veth   string
}

// slotAddrs returns the host-side and namespace-side addresses of slot.
func slotAddrs(slot int) (host, pod netip.Addr) {
	base := slot * 4
	b := [4]byte{10, 213, byte(base >> 8), byte(base & 0xff)}
	host = netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3] + 1})
	pod = netip.AddrFrom4([4]byte{b[0], b[1], b[2], b[3] + 2})
	return host, pod
}

// slots hands out /30 networks.
type slots struct {
	mu   sync.Mutex
	used map[int]bool
	next int
}

func (s *slots) get() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used == nil {
		s.used = map[int]bool{}
	}
	for range maxSlots {
		s.next = s.next%(maxSlots-1) + 1
		if !s.used[s.next] {
			s.used[s.next] = true
			return s.next, nil
		}
	}
	return 0, errors.New("no free /30 left in 10.213.0.0/16")
}

func (s *slots) put(slot int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.used, slot)
}

// ipCmd runs `ip args...` with a bounded time and returns its output; the
// error quotes the command and what it printed.
func ipCmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

// createNetns creates namespace name with a veth pair on slot.
func createNetns(name string, slot int) (ns *netns, err error) {
	host, pod := slotAddrs(slot)
	ns = &netns{Name: name, Slot: slot, HostIP: host, PodIP: pod, veth: vethPrefix + strconv.Itoa(slot)}
	defer func() {
		if err != nil {
			ns.delete()
		}
	}()
	steps := [][]string{
		{"netns", "add", name},
		{"link", "add", ns.veth, "type", "veth", "peer", "name", "eth0", "netns", name},
		{"addr", "add", host.String() + "/30", "dev", ns.veth},
		{"link", "set", ns.veth, "up"},
		{"-n", name, "addr", "add", pod.String() + "/30", "dev", "eth0"},
		{"-n", name, "link", "set", "eth0", "up"},
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "route", "add", "default", "via", host.String()},
	}
	for _, s := range steps {
		if _, err := ipCmd(s...); err != nil {
			return ns, fmt.Errorf("network namespace %s: %w", name, err)
		}
	}
	return ns, nil
}

// delete removes the namespace and its veth; errors are ignored (the
// objects may be gone already).
func (ns *netns) delete() {
	if ns == nil {
		return
	}
	_, _ = ipCmd("link", "del", ns.veth)
	_, _ = ipCmd("netns", "del", ns.Name)
}

// wrapper returns the argv prefix that runs a binary inside the namespace.
func (ns *netns) wrapper() []string { return []string{"ip", "netns", "exec", ns.Name} }

// ensureServiceIP creates the host-only link holding ServiceIP.
func ensureServiceIP() error {
	_, _ = ipCmd("link", "del", dummyLink)
	for _, s := range [][]string{
		// A veth pair rather than a dummy link: kernels without the dummy
		// module (microVMs) have veth, which pods need anyway.
		{"link", "add", dummyLink, "type", "veth", "peer", "name", dummyLink + "p"},
		{"addr", "add", ServiceIP.String() + "/32", "dev", dummyLink},
		{"link", "set", dummyLink + "p", "up"},
		{"link", "set", dummyLink, "up"},
	} {
		if _, err := ipCmd(s...); err != nil {
			return fmt.Errorf("service address %s: %w", ServiceIP, err)
		}
	}
	return nil
}

// cleanStale removes what a crashed earlier run left: processes in
// kntrace-pl-* network namespaces (SIGKILL), the namespaces, ktv* veths and the
// dummy link. It returns what it removed.
func cleanStale() []string {
	var removed []string
	out, _ := ipCmd("netns", "list")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], netnsPrefix) {
			continue
		}
		name := f[0]
		pids, _ := ipCmd("netns", "pids", name)
		for _, p := range strings.Fields(pids) {
			if pid, err := strconv.Atoi(p); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_, _ = ipCmd("netns", "del", name)
		removed = append(removed, "netns "+name)
	}
	links, _ := ipCmd("-o", "link", "show")
	for _, line := range strings.Split(links, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, vethPrefix) || name == dummyLink {
			if _, err := ipCmd("link", "del", name); err == nil {
				removed = append(removed, "link "+name)
			}
		}
	}
	return removed
}
