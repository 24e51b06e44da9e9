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
	"net"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"knative.dev/pkg/apis"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/kntrace/kntrace/conventions"
	"github.com/kntrace/kntrace/jaeger"
)

// ServingClient is a Knative Serving client for the cluster that does not
// print the API server's deprecation warnings.
func (c *Cluster) ServingClient() (servingclient.Interface, error) {
	quiet := rest.CopyConfig(c.Config)
	quiet.WarningHandler = rest.NoWarnings{}
	return servingclient.NewForConfig(quiet)
}

// WaitServiceReady waits for the Knative Service's Ready condition; the
// timeout error describes its pods.
func (c *Cluster) WaitServiceReady(ctx context.Context, ns, name string, timeout time.Duration) error {
	serving, err := c.ServingClient()
	if err != nil {
		return err
	}
	err = c.poll(ctx, timeout, "Knative Service "+name+" Ready", func(ctx context.Context) (string, error) {
		s, err := serving.ServingV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error(), nil
		}
		if cond := s.Status.GetCondition(apis.ConditionReady); cond != nil {
			if cond.IsTrue() {
				return "", nil
			}
			return fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message), nil
		}
		return "no Ready condition yet", nil
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, c.DescribePods(ctx, ns, "serving.knative.dev/service="+name))
	}
	return nil
}

// WaitNoPods waits until no pod of ns matches the selector (a revision
// scaled to zero).
func (c *Cluster) WaitNoPods(ctx context.Context, ns, selector string, timeout time.Duration) error {
	return c.poll(ctx, timeout, "no pod left of "+selector, func(ctx context.Context) (string, error) {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err.Error(), nil
		}
		names := make([]string, 0, len(pods.Items))
		for _, p := range pods.Items {
			names = append(names, p.Name)
		}
		return strings.Join(names, ", "), nil
	})
}

// DialJaeger connects to the query gRPC API of the Jaeger config/
// installs, through its Service's cluster IP (kube-proxy's rules serve the
// host as they serve pods).
func (c *Cluster) DialJaeger(ctx context.Context) (*jaeger.Client, error) {
	svc, err := c.Client.CoreV1().Services(KntraceNamespace).Get(ctx, conventions.JaegerService, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == conventions.JaegerQueryGRPCPort {
			return jaeger.Dial(ctx, net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(p.Port))))
		}
	}
	return nil, fmt.Errorf("Service %s/%s has no port %s", KntraceNamespace, conventions.JaegerService, conventions.JaegerQueryGRPCPort)
}
