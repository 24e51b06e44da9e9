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
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/test/proc"
)

// Addresses and names the cluster owns on the machine. No other kntrace
// test uses these ranges.
var (
	// NodeIP is the node's address, on a port-less bridge of its own: the
	// API server, the kubelet and the ingress's in-cluster entry point
	// listen on it, pods reach it through their default route.
	NodeIP = netip.MustParseAddr("10.216.0.1")
	// PodCIDR is the cluster's pod network; the node gets its first /24.
	PodCIDR = netip.MustParsePrefix("10.214.0.0/16")
	// ServiceCIDR is the range of Service cluster IPs.
	ServiceCIDR = netip.MustParsePrefix("10.215.0.0/16")
	// APIServiceIP is the cluster IP of the kubernetes Service.
	APIServiceIP = netip.MustParseAddr("10.215.0.1")
	// DNSServiceIP is the cluster IP of CoreDNS (Service kube-system/kube-dns).
	DNSServiceIP = netip.MustParseAddr("10.215.0.10")
	// TracingEndpoint is where the kubelet, the API server and containerd
	// export their spans: kntrace's podstart through its NodePort, which
	// this cluster's kube-proxy serves on NodeIP only. Nothing answers
	// before kntrace is installed; the exporters drop what they cannot send.
	TracingEndpoint = netip.AddrPortFrom(NodeIP, conventions.PodstartNodePort).String()
)

const (
	// nodeLink is the port-less bridge holding NodeIP.
	nodeLink = "kntr-node"
	// podBridge is the bridge the CNI plugin attaches pods to.
	podBridge = "kntr-cni0"
	// cgroupRoot is the kubelet's cgroup root in every hierarchy: pods live
	// below it, so a crashed run's containers are found and killed there.
	cgroupRoot = "kntrace-cluster"
	// ownerChainPrefixes name the iptables chains the cluster's kube-proxy,
	// kubelet and CNI plugins create.
	kubeChainPrefix = "KUBE-"
	cniChainPrefix  = "CNI-"
)

// sysctls are the kernel settings the cluster changes (ip_forward) or its
// kubelet and kube-proxy change on their own (protectKernelDefaults false):
// their values are recorded before anything starts and restored at the end.
var sysctls = []string{
	"net.ipv4.ip_forward",
	"net.ipv4.conf.all.route_localnet",
	"net.bridge.bridge-nf-call-iptables",
	"net.bridge.bridge-nf-call-ip6tables",
	"vm.overcommit_memory",
	"vm.panic_on_oom",
	"kernel.panic",
	"kernel.panic_on_oops",
	"kernel.keys.root_maxkeys",
	"kernel.keys.root_maxbytes",
}

// hostPaths are fixed paths the kubelet, containerd or the CNI library
// create on their own; the ones that did not exist before the cluster
// started are removed at the end.
var hostPaths = []string{
	"/var/lib/kubelet",
	"/var/log/containers",
	"/var/log/pods",
	"/usr/libexec/kubernetes",
	"/var/lib/cni",
	"/run/containerd",
	"/opt/containerd",
	"/etc/kubernetes",
}

// Machine-wide files: the lock one cluster holds while it runs, and the
// record of what it changed, which lets the next start undo a crashed run.
var (
	lockPath   = filepath.Join(os.TempDir(), "kntrace-cluster.lock")
	recordPath = filepath.Join(os.TempDir(), "kntrace-cluster.json")
)

// hostRecord is what a running cluster changed on the machine.
type hostRecord struct {
	// Dir is the cluster's state directory.
	Dir string `json:"dir"`
	// Sysctls holds the values before the cluster started.
	Sysctls map[string]string `json:"sysctls"`
	// NftTables lists the nftables tables that existed before ("ip nat");
	// nil when nft is not installed.
	NftTables []string `json:"nftTables"`
	// Created lists hostPaths that did not exist before.
	Created []string `json:"created"`
}

// acquireLock waits until no other cluster holds lockPath, bounded by wait
// and ctx.
func acquireLock(ctx context.Context, wait time.Duration, logf func(string, ...any)) (*proc.MachineLock, error) {
	return proc.LockMachine(ctx, lockPath, "local cluster", "one cluster runs per machine; stop it or pass cluster.WithLockWait", wait, logf)
}

// newHostRecord records the machine's state before the cluster changes it.
func newHostRecord(dir string) *hostRecord {
	rec := &hostRecord{Dir: dir, Sysctls: map[string]string{}}
	for _, k := range sysctls {
		if v, err := readSysctl(k); err == nil {
			rec.Sysctls[k] = v
		}
	}
	rec.NftTables = nftTables()
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			rec.Created = append(rec.Created, p)
		}
	}
	return rec
}

func (r *hostRecord) save() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := recordPath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("record the cluster's host changes in %s: %w", recordPath, err)
	}
	return os.Rename(tmp, recordPath)
}

// loadHostRecord returns the record a crashed run left, or nil.
func loadHostRecord() (*hostRecord, error) {
	b, err := os.ReadFile(recordPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r hostRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s is not a cluster record (%v): remove it once no cluster runs", recordPath, err)
	}
	return &r, nil
}

// teardown undoes everything the record's cluster did on the machine. It
// works from the machine's state, not from process handles, so the same
// code cleans up after a crashed run. Every step runs; the errors are
// joined.
// Steps slower than a second are reported through logf.
func (r *hostRecord) teardown(logf func(string, ...any)) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	last := time.Now()
	timed := func(step string) {
		if d := time.Since(last); d > time.Second {
			logf("stop: %s took %s", step, d.Round(time.Millisecond))
		}
		last = time.Now()
	}
	// Containers first (they live in the kubelet's cgroup root), then every
	// process started with the state directory in its command line:
	// containerd, its shims, the control plane, the registry, the ingress.
	add(killCgroup(cgroupRoot))
	timed("killing the containers")
	add(killByArg(r.Dir))
	timed("killing the cluster's processes")
	// What `kube-proxy --cleanup` would remove in iptables mode, without its
	// four seconds of probing every mode.
	for _, bin := range []string{"iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy"} {
		add(cleanIptables(bin))
	}
	add(cleanNft(r.NftTables))
	timed("removing iptables chains and nftables tables")
	add(unmountUnder(r.Dir))
	for _, p := range r.Created {
		add(unmountUnder(p))
	}
	for _, l := range []string{podBridge, nodeLink} {
		if linkExists(l) {
			if _, err := run(10*time.Second, "ip", "link", "del", l); err != nil {
				add(err)
			}
		}
	}
	add(removeCgroupRoot(cgroupRoot))
	// Deepest first, so /run/containerd/s goes before /run/containerd.
	created := append([]string(nil), r.Created...)
	sort.Slice(created, func(i, j int) bool { return len(created[i]) > len(created[j]) })
	for _, p := range created {
		if err := os.RemoveAll(p); err != nil {
			add(fmt.Errorf("remove %s: %w", p, err))
		}
	}
	for k, v := range r.Sysctls {
		if cur, err := readSysctl(k); err == nil && cur != v {
			add(writeSysctl(k, v))
		}
	}
	timed("unmounting, removing links, cgroups and paths, restoring sysctls")
	if r.Dir != "" {
		if err := os.RemoveAll(r.Dir); err != nil {
			add(fmt.Errorf("remove the state directory %s: %w", r.Dir, err))
		}
	}
	timed("removing the state directory")
	if len(errs) == 0 {
		if err := os.Remove(recordPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			add(err)
		}
	}
	return errors.Join(errs...)
}

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func writeSysctl(key, value string) error {
	if err := os.WriteFile(sysctlPath(key), []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// run runs a command with a bounded time; the error quotes it and its
// output.
func run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out.String(), nil
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// setupNodeLink creates the port-less bridge holding NodeIP.
func setupNodeLink() error {
	for _, args := range [][]string{
		{"link", "add", nodeLink, "type", "bridge"},
		{"addr", "add", NodeIP.String() + "/32", "dev", nodeLink},
		{"link", "set", nodeLink, "up"},
	} {
		if _, err := run(10*time.Second, "ip", args...); err != nil {
			return fmt.Errorf("node address %s on bridge %s: %w", NodeIP, nodeLink, err)
		}
	}
	return nil
}

// cgroupMounts returns the mount points of every cgroup hierarchy (v1
// controllers and a v2 unified one).
func cgroupMounts() ([]string, error) {
	mounts, err := readMountinfo()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mounts {
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			out = append(out, m.point)
		}
	}
	return out, nil
}

// createCgroupRoot creates the kubelet's cgroup root in every hierarchy
// (the kubelet refuses a root that does not exist); the cpuset one gets its
// parent's CPUs and memory nodes, as a v1 cpuset must before it takes tasks.
func createCgroupRoot(name string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		dir := filepath.Join(m, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("cgroup root %s: %w", dir, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			b, err := os.ReadFile(filepath.Join(m, f))
			if err != nil {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				return fmt.Errorf("cgroup root %s: %s: %w", dir, f, err)
			}
		}
	}
	return nil
}

// cgroupDirs returns every cgroup directory below name in every hierarchy,
// deepest first.
func cgroupDirs(name string) []string {
	mounts, _ := cgroupMounts()
	var dirs []string
	for _, m := range mounts {
		root := filepath.Join(m, name)
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	return dirs
}

// killCgroup SIGKILLs every process below the cgroup root and waits until
// they are gone.
func killCgroup(name string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids := pidsInCgroup(name)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in cgroup %s survive SIGKILL", pids, name)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond) // poll: nothing to wait on for another process's exit
	}
}

// removeCgroupRoot removes the (empty) cgroup root from every hierarchy.
func removeCgroupRoot(name string) error {
	var errs []error
	for _, d := range cgroupDirs(name) {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// pidsByArg returns the processes that have an argument inside dir (all
// the cluster's processes name their directory under the state directory).
func pidsByArg(dir string) []int {
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if arg == dir || strings.Contains(arg, dir+"/") {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// pidsInCgroup returns the processes below the cgroup root name.
func pidsInCgroup(name string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range cgroupDirs(name) {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// killByArg SIGKILLs every process pidsByArg finds and waits until they are
// gone.
func killByArg(dir string) error {
	if dir == "" {
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids := pidsByArg(dir)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v using %s survive SIGKILL", pids, dir)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond) // poll: nothing to wait on for another process's exit
	}
}

type mountEntry struct {
	point  string
	fstype string
}

func readMountinfo() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		e := mountEntry{point: unescapeMount(fields[4])}
		for i, fld := range fields {
			if fld == "-" && i+1 < len(fields) {
				e.fstype = fields[i+1]
				break
			}
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder lazily unmounts every mount at or below dir, deepest first,
// until none is left (bind mounts stack).
func unmountUnder(dir string) error {
	if dir == "" || dir == "/" {
		return nil
	}
	for range 10 {
		mounts, err := readMountinfo()
		if err != nil {
			return err
		}
		var under []string
		for _, m := range mounts {
			if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
				under = append(under, m.point)
			}
		}
		if len(under) == 0 {
			return nil
		}
		sort.Slice(under, func(i, j int) bool { return len(under[i]) > len(under[j]) })
		for _, p := range under {
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
	return fmt.Errorf("mounts below %s remain after unmounting ten times", dir)
}

// cleanIptables removes the chains the cluster's kube-proxy, kubelet and CNI
// plugins made (KUBE-*, CNI-*) and the rules that jump to them, table by
// table, through bin's save/restore pair; a missing bin is no error.
func cleanIptables(bin string) error {
	if _, err := exec.LookPath(bin); err != nil {
		return nil
	}
	save := bin + "-save"
	restore := bin + "-restore"
	if strings.HasSuffix(bin, "-legacy") {
		base := strings.TrimSuffix(bin, "-legacy")
		save, restore = base+"-legacy-save", base+"-legacy-restore"
	}
	ours := func(chain string) bool {
		return strings.HasPrefix(chain, kubeChainPrefix) || strings.HasPrefix(chain, cniChainPrefix)
	}
	var errs []error
	for _, table := range []string{"filter", "nat", "mangle", "raw"} {
		out, err := run(30*time.Second, save, "-t", table)
		if err != nil {
			continue // no such table
		}
		var dels, chains []string
		for _, line := range strings.Split(out, "\n") {
			switch {
			case strings.HasPrefix(line, ":"):
				if name := strings.Fields(line[1:]); len(name) > 0 && ours(name[0]) {
					chains = append(chains, name[0])
				}
			case strings.HasPrefix(line, "-A "):
				f := strings.Fields(line)
				if len(f) < 2 || ours(f[1]) {
					continue
				}
				for i := 2; i+1 < len(f); i++ {
					if (f[i] == "-j" || f[i] == "-g") && ours(f[i+1]) {
						dels = append(dels, "-D"+strings.TrimPrefix(line, "-A"))
						break
					}
				}
			}
		}
		if len(dels) == 0 && len(chains) == 0 {
			continue
		}
		var script strings.Builder
		fmt.Fprintf(&script, "*%s\n", table)
		for _, d := range dels {
			script.WriteString(d + "\n")
		}
		for _, c := range chains {
			fmt.Fprintf(&script, "-F %s\n", c)
		}
		for _, c := range chains {
			fmt.Fprintf(&script, "-X %s\n", c)
		}
		script.WriteString("COMMIT\n")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, restore, "--noflush")
		cmd.Stdin = strings.NewReader(script.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s: remove the cluster's chains from table %s: %v: %s", restore, table, err, strings.TrimSpace(string(out))))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// nftTables lists the nftables tables ("ip nat"), or nil without nft.
func nftTables() []string {
	if _, err := exec.LookPath("nft"); err != nil {
		return nil
	}
	out, err := run(10*time.Second, "nft", "list", "tables")
	if err != nil {
		return nil
	}
	tables := []string{}
	for _, line := range strings.Split(out, "\n") {
		if t, ok := strings.CutPrefix(strings.TrimSpace(line), "table "); ok {
			tables = append(tables, t)
		}
	}
	return tables
}

// cleanNft deletes the tables that did not exist before the cluster and
// hold no rule any more (iptables-nft leaves its tables and base chains
// behind), and kube-proxy's own tables.
func cleanNft(before []string) error {
	if before == nil {
		return nil
	}
	existed := map[string]bool{}
	for _, t := range before {
		existed[t] = true
	}
	var errs []error
	for _, t := range nftTables() {
		if existed[t] {
			continue
		}
		fam, name, _ := strings.Cut(t, " ")
		if name != "kube-proxy" {
			out, err := run(10*time.Second, "nft", "-j", "list", "table", fam, name)
			if err != nil || strings.Contains(out, `"rule"`) {
				continue
			}
		}
		if _, err := run(10*time.Second, "nft", "delete", "table", fam, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
