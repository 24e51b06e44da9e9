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
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LockPath is the file a running plane holds an exclusive lock on: the
// activator's ports, the service address and the kntrace-pl-* namespaces are
// machine-wide, so one plane runs at a time and the next one waits.
var LockPath = filepath.Join(os.TempDir(), "kntrace-plane.lock")

// machineLock is the held lock.
type machineLock struct{ f *os.File }

// acquireLock waits until no other plane holds LockPath, bounded by wait
// and ctx; progress goes to logf every 10 s.
func acquireLock(ctx context.Context, wait time.Duration, logf func(string, ...any)) (*machineLock, error) {
	f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("plane lock %s: %w", LockPath, err)
	}
	deadline := time.Now().Add(wait)
	lastLog := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return &machineLock{f: f}, nil
		}
		holder := "another process"
		if b, rerr := os.ReadFile(LockPath); rerr == nil && len(b) > 0 {
			holder = "pid " + strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another local plane (%s) has been running for longer than %s: one plane runs per machine (fixed activator ports 8012/8013/8008); stop it or wait (lock %s)", holder, wait, LockPath)
		}
		if time.Since(lastLog) >= 10*time.Second {
			logf("waiting for another local plane (%s) to stop", holder)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (l *machineLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
