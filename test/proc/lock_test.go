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

package proc

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLockMachine: a second holder waits, then gives up naming the
// holder's pid and the hint; once released the lock can be taken again.
func TestLockMachine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.lock")
	first, err := LockMachine(context.Background(), path, "test thing", "stop it", time.Second, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockMachine(context.Background(), path, "test thing", "stop it", 300*time.Millisecond, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), "stop it") {
		t.Fatalf("second lock: %v, want a timeout naming pid %d and the hint", err, os.Getpid())
	}
	first.Release()
	first.Release() // a released lock is a no-op
	again, err := LockMachine(context.Background(), path, "test thing", "stop it", time.Second, t.Logf)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	again.Release()
}
