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
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStopEscalatesToSIGKILLAfterGrace(t *testing.T) {
	// A process that ignores SIGTERM, so only the SIGKILL after the grace
	// period ends it.
	p, err := Start("stubborn", "/bin/sh", []string{"-c", `trap "" TERM; echo up; while :; do sleep 1; done`},
		WithLogDir(t.TempDir()), WithGrace(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	if err := p.WaitFor(10*time.Second, "its first output", func(context.Context) error {
		if !strings.Contains(p.LogTail(1), "up") {
			return errors.New("no output yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Stop()
	if exited, _ := p.Exited(); !exited {
		t.Fatal("Stop returned with the process still running")
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Errorf("Stop took %s, want about the 300ms grace period", d)
	}
}

func TestSignalAfterExitIsRefused(t *testing.T) {
	p, err := Start("short", "/bin/true", nil, WithLogDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("/bin/true did not exit within 10s")
	}
	if err := p.Signal(syscall.SIGKILL); err == nil {
		t.Error("Signal after exit succeeded: it could hit a process that reused the group id")
	}
	p.Kill() // must return at once, signalling nothing
	p.Stop()
}

func TestWaitForReportsAnEarlyExitWithTheLog(t *testing.T) {
	p, err := Start("crasher", "/bin/sh", []string{"-c", "echo 'fatal: no config'; exit 3"}, WithLogDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitFor(10*time.Second, "ready", func(context.Context) error { return errors.New("not ready") })
	if err == nil || !strings.Contains(err.Error(), "exited before ready") || !strings.Contains(err.Error(), "fatal: no config") {
		t.Errorf("WaitFor() = %v, want an early-exit error quoting the log", err)
	}
}

func TestWaitForTimesOutWithTheLastError(t *testing.T) {
	p, err := Start("sleeper", "/bin/sleep", []string{"30"}, WithLogDir(t.TempDir()), WithGrace(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	attempts := 0
	err = p.WaitFor(300*time.Millisecond, "warm", func(ctx context.Context) error {
		attempts++
		if attempts == 1 {
			return errors.New("still warming up")
		}
		<-ctx.Done() // later attempts are cut short by the deadline
		return ctx.Err()
	})
	if err == nil || !strings.Contains(err.Error(), "not reached within 300ms") || !strings.Contains(err.Error(), "still warming up") {
		t.Errorf("WaitFor() = %v, want a timeout naming the last error", err)
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p == 0 {
			t.Fatalf("ports %v are not distinct and non-zero", ports)
		}
		seen[p] = true
	}
}

// TestUsage: a process that spins is seen using CPU, and its memory is
// the size a running program has.
func TestUsage(t *testing.T) {
	p, err := Start("spin", "/bin/sh", []string{"-c", `echo up; while :; do :; done`}, WithLogDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	var u Usage
	if err := p.WaitFor(20*time.Second, "200ms of CPU time", func(context.Context) error {
		if u, err = p.Usage(); err != nil {
			return err
		}
		if u.CPU < 200*time.Millisecond {
			return fmt.Errorf("CPU %s", u.CPU)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if u.RSS <= 0 || u.PeakRSS < u.RSS || u.RSS > 1<<30 || u.AnonRSS <= 0 || u.AnonRSS > u.RSS {
		t.Errorf("RSS %d, peak %d, anonymous %d: want 0 < anonymous ≤ RSS ≤ peak, and a shell under 1 GiB", u.RSS, u.PeakRSS, u.AnonRSS)
	}
}
