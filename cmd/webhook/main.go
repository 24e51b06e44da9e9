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

// Command webhook is kntrace's in-cluster component: the mutating admission
// webhook for Knative Services and Configurations and the controller that
// keeps Knative's tracing ConfigMaps in line with config-kntrace. Run two
// or more replicas: every one serves admission, the one holding the lease
// reconciles. See the webhook package.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/tools/clientcmd"
	"knative.dev/pkg/logging"

	"github.com/kntrace/kntrace/webhook"
)

// version is set at link time with -X main.version=v….
var version = "devel"

func main() {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "path to a kubeconfig (default: in-cluster configuration)")
	address := fs.String("address", ":8443", "TLS address to serve admission on")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	lease := fs.Duration("lease-duration", webhook.DefaultLease.Duration, "leader election: how long a lease is valid (the longest a dead leader's reconciling is missed)")
	renew := fs.Duration("renew-deadline", webhook.DefaultLease.RenewDeadline, "leader election: how long the leader retries to renew before it stops reconciling")
	retry := fs.Duration("retry-period", webhook.DefaultLease.RetryPeriod, "leader election: how often candidates try to take the lease")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook: kubeconfig:", err)
		os.Exit(1)
	}
	logger, _ := logging.NewLogger("", *level)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := webhook.Run(ctx, cfg,
		webhook.WithAddress(*address),
		webhook.WithVersion(version),
		webhook.WithLogger(logger.Named("kntrace-webhook")),
		webhook.WithLease(webhook.Lease{Duration: *lease, RenewDeadline: *renew, RetryPeriod: *retry}),
	); err != nil {
		logger.Errorw("webhook stopped", "error", err)
		_ = logger.Sync()
		stop()
		os.Exit(1)
	}
}
