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

package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	eventingclient "knative.dev/eventing/pkg/client/clientset/versioned"
	"knative.dev/pkg/apis"
)

// eventingReadyTimeout bounds the wait for the sample's Broker and Trigger.
const eventingReadyTimeout = 3 * time.Minute

// waitEventingReady waits until the Broker and the Trigger of the eventing
// sample are Ready: the broker's ingress accepts events and the Trigger
// delivers them to the consumer.
func (d *demo) waitEventingReady(ctx context.Context, broker, trigger string) error {
	quiet := rest.CopyConfig(d.c.Config)
	quiet.WarningHandler = rest.NoWarnings{}
	eventing, err := eventingclient.NewForConfig(quiet)
	if err != nil {
		return err
	}
	for _, w := range []struct {
		what string
		get  func(context.Context) (*apis.Condition, error)
	}{
		{"Broker " + broker, func(ctx context.Context) (*apis.Condition, error) {
			b, err := eventing.EventingV1().Brokers(sampleNS).Get(ctx, broker, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return b.Status.GetCondition(apis.ConditionReady), nil
		}},
		{"Trigger " + trigger, func(ctx context.Context) (*apis.Condition, error) {
			t, err := eventing.EventingV1().Triggers(sampleNS).Get(ctx, trigger, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return t.Status.GetCondition(apis.ConditionReady), nil
		}},
	} {
		if err := waitReady(ctx, w.what, eventingReadyTimeout, w.get); err != nil {
			return err
		}
	}
	return nil
}

// waitReady polls an object's Ready condition until it is True or timeout
// passes; the timeout error names the object and its last state.
func waitReady(ctx context.Context, what string, timeout time.Duration, get func(context.Context) (*apis.Condition, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not checked yet"
	for {
		gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
		cond, err := get(gctx)
		gcancel()
		switch {
		case err != nil:
			last = err.Error()
		case cond == nil:
			last = "no Ready condition yet"
		case cond.IsTrue():
			return nil
		default:
			last = fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not Ready within %s (last: %s)", what, timeout, last)
			}
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
