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
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// MachineLock is an exclusive lock on a file, held by one process of the
// machine at a time: what a test plane or cluster takes before it touches
// machine-wide resources (fixed ports, address ranges, host paths).
type MachineLock struct{ f *os.File }

// LockMachine waits until no other process holds path, bounded by wait and
// ctx, then holds it and writes its pid there. what names the guarded thing
// ("local cluster") in progress lines (to logf, every 15 s) and in the
// timeout error, which ends with hint (what the user can do).
func LockMachine(ctx context.Context, path, what, hint string, wait time.Duration, logf func(string, ...any)) (*MachineLock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s lock %s: %w", what, path, err)
	}
	deadline := time.Now().Add(wait)
	lastLog := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return &MachineLock{f: f}, nil
		}
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil && len(bytes.TrimSpace(b)) > 0 {
			holder = "pid " + string(bytes.TrimSpace(b))
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another %s (%s) has been running for longer than %s: %s (lock %s)", what, holder, wait, hint, path)
		}
		if time.Since(lastLog) >= 15*time.Second {
			logf("waiting for another %s (%s) to stop", what, holder)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// Release gives the lock up; a nil or released lock is a no-op.
func (l *MachineLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}
