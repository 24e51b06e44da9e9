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
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// taskStart is containerd's /tasks/start event of one container, on
// containerd's own clock.
type taskStart struct {
	at        time.Time
	container string
}

// containerdEvents records containerd's /tasks/start events (`ctr events`)
// until stopped: the record of sandboxes and containers starting that
// neither the kubelet nor podstart owns. Debian's containerd 1.6 is built
// without tracing, so its events are what it says of a pod's start.
type containerdEvents struct {
	c      *Cluster
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	starts []taskStart
	errs   []string
}

func (c *Cluster) watchContainerdEvents(t *testing.T) *containerdEvents {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &containerdEvents{c: c, cancel: cancel, done: make(chan struct{})}
	cmd := exec.CommandContext(ctx, "ctr", "--address", c.containerdSocket(), "events")
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("ctr events: %v", err)
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.parse(sc.Text())
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *containerdEvents) stop() {
	w.cancel()
	<-w.done
}

// parse reads one line of `ctr events`:
// "2026-12-02 01:40:29.046842784 +0000 UTC k8s.io /tasks/start {...}".
func (w *containerdEvents) parse(line string) {
	f := strings.SplitN(line, " ", 7)
	if len(f) < 7 || f[5] != "/tasks/start" {
		return
	}
	at, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", strings.Join(f[:4], " "))
	var ev struct {
		ContainerID string `json:"container_id"`
	}
	if err == nil {
		err = json.Unmarshal([]byte(f[6]), &ev)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs = append(w.errs, fmt.Sprintf("%q: %v", line, err))
		return
	}
	w.starts = append(w.starts, taskStart{at: at, container: ev.ContainerID})
}

// podStarts returns when containerd started the pod's sandbox and the
// last of its containers, finding each container's pod and kind by the
// labels the CRI plugin gives it.
func (w *containerdEvents) podStarts(ctx context.Context, namespace, pod string) (sandbox, lastContainer time.Time, err error) {
	w.mu.Lock()
	starts := append([]taskStart(nil), w.starts...)
	errs := w.errs
	w.mu.Unlock()
	if len(errs) > 0 {
		return sandbox, lastContainer, fmt.Errorf("unreadable containerd events: %s", strings.Join(errs, "; "))
	}
	for _, s := range starts {
		out, err := exec.CommandContext(ctx, "ctr", "--address", w.c.containerdSocket(), "--namespace", "k8s.io", "containers", "info", s.container).Output()
		if err != nil {
			continue // gone already: not the pod just started
		}
		var info struct {
			Labels map[string]string `json:"Labels"`
		}
		if err := json.Unmarshal(out, &info); err != nil {
			return sandbox, lastContainer, fmt.Errorf("ctr containers info %s: %v", s.container, err)
		}
		if info.Labels["io.kubernetes.pod.namespace"] != namespace || info.Labels["io.kubernetes.pod.name"] != pod {
			continue
		}
		switch info.Labels["io.cri-containerd.kind"] {
		case "sandbox":
			sandbox = s.at
		case "container":
			if s.at.After(lastContainer) {
				lastContainer = s.at
			}
		}
	}
	if sandbox.IsZero() || lastContainer.IsZero() {
		return sandbox, lastContainer, fmt.Errorf("containerd reported no sandbox or container start of pod %s/%s among %d task starts", namespace, pod, len(starts))
	}
	return sandbox, lastContainer, nil
}
