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
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// ContainerExit is a container of a pod that terminated.
type ContainerExit struct {
	Pod, Container string
	ExitCode       int32
	// Reason is the kubelet's (Completed, Error, OOMKilled …).
	Reason string
	// Restart is the container's restart count when it terminated.
	Restart int32
}

func (e ContainerExit) String() string {
	return fmt.Sprintf("%s/%s exited %d (%s)", e.Pod, e.Container, e.ExitCode, e.Reason)
}

// ExitWatch records the containers that terminate in the pods it watches,
// including pods deleted right after (a revision scaling to zero): the
// kubelet reports the terminated state before it removes the pod.
type ExitWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	exits  map[string]ContainerExit
	err    error
}

// WatchExits starts recording the containers that terminate in the pods
// of ns that match the label selector (every pod when it is empty). Call
// Stop to end it.
func (c *Cluster) WatchExits(ctx context.Context, ns, selector string) (*ExitWatch, error) {
	pods := c.Client.CoreV1().Pods(ns)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("watch pods of %s (%s): %w", ns, selector, err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return pods.Watch(ctx, o)
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	w := &ExitWatch{cancel: cancel, done: make(chan struct{}), exits: map[string]ContainerExit{}}
	for i := range list.Items {
		w.record(&list.Items[i])
	}
	go func() {
		defer close(w.done)
		defer rw.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-rw.ResultChan():
				if !ok {
					return
				}
				switch o := ev.Object.(type) {
				case *corev1.Pod:
					w.record(o)
				case *metav1.Status:
					w.mu.Lock()
					w.err = fmt.Errorf("watch pods of %s: %s", ns, o.Message)
					w.mu.Unlock()
				}
			}
		}
	}()
	return w, nil
}

func (w *ExitWatch) record(p *corev1.Pod) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		add := func(t *corev1.ContainerStateTerminated, restart int32) {
			if t == nil {
				return
			}
			e := ContainerExit{Pod: p.Name, Container: cs.Name, ExitCode: t.ExitCode, Reason: t.Reason, Restart: restart}
			w.exits[fmt.Sprintf("%s/%s/%d", p.Name, cs.Name, restart)] = e
		}
		add(cs.State.Terminated, cs.RestartCount)
		if cs.RestartCount > 0 {
			add(cs.LastTerminationState.Terminated, cs.RestartCount-1)
		}
	}
}

// Exits returns the containers that terminated so far, by pod and
// container.
func (w *ExitWatch) Exits() ([]ContainerExit, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ContainerExit, 0, len(w.exits))
	for _, e := range w.exits {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pod != out[j].Pod {
			return out[i].Pod < out[j].Pod
		}
		if out[i].Container != out[j].Container {
			return out[i].Container < out[j].Container
		}
		return out[i].Restart < out[j].Restart
	})
	return out, w.err
}

// Stop ends the watch and returns what Exits returns.
func (w *ExitWatch) Stop() ([]ContainerExit, error) {
	w.cancel()
	<-w.done
	return w.Exits()
}
