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
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCleanIptables makes chains as kube-proxy and the CNI plugins do
// (with a quoted comment on the jump) and checks that the teardown removes
// them, the jumps, and the nftables tables iptables-nft created for them.
func TestCleanIptables(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (iptables): run the tests as root")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Fatal("iptables is not installed: run hack/apt.sh")
	}
	// A running cluster's chains have the same prefixes: wait for it.
	lock, err := acquireLock(context.Background(), DefaultLockWait, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	before := nftTables()
	for _, args := range [][]string{
		{"-t", "nat", "-N", "KUBE-KNTRACE-TEST"},
		{"-t", "nat", "-A", "KUBE-KNTRACE-TEST", "-j", "RETURN"},
		{"-t", "nat", "-A", "OUTPUT", "-m", "comment", "--comment", "kntrace test portals", "-j", "KUBE-KNTRACE-TEST"},
		{"-t", "filter", "-N", "CNI-KNTRACE-TEST"},
		{"-t", "filter", "-A", "FORWARD", "-j", "CNI-KNTRACE-TEST"},
	} {
		if _, err := run(10*time.Second, "iptables", args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := cleanIptables("iptables"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"nat", "filter"} {
		out, err := run(10*time.Second, "iptables-save", "-t", table)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "KNTRACE-TEST") {
			t.Errorf("table %s still has the test chains:\n%s", table, out)
		}
	}
	if before == nil {
		return
	}
	if err := cleanNft(before); err != nil {
		t.Fatal(err)
	}
	if after := nftTables(); !slices.Equal(after, before) {
		t.Errorf("nftables tables before %v, after the teardown %v", before, after)
	}
}
