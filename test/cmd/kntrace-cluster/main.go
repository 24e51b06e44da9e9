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

// Command kntrace-cluster drives the local Kubernetes and Knative cluster of
// test/cluster (see docs/cluster.md):
//
//	kntrace-cluster prepare   fetch and build what a cluster needs (no root)
//	kntrace-cluster up        boot it with Knative Serving, Eventing and
//	                          Traefik, print how to use it, stop on Ctrl-C
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kntrace/kntrace/test/cluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kntrace-cluster:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kntrace-cluster", flag.ContinueOnError)
	eventing := fs.Bool("eventing", true, "up: install Knative Eventing too")
	ingress := fs.String("ingress", "", "up: Traefik's public entry point (default: a free 127.0.0.1 port)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kntrace-cluster prepare | up [-eventing=false] [-ingress 127.0.0.1:PORT]")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return fmt.Errorf("no command")
	}
	cmd := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := []cluster.Option{cluster.WithOutput(os.Stderr)}
	switch cmd {
	case "prepare":
		return cluster.Prepare(ctx, opts...)
	case "up":
		if *ingress != "" {
			opts = append(opts, cluster.WithIngressAddr(*ingress))
		}
		c, err := cluster.Start(ctx, opts...)
		if err != nil {
			return err
		}
		defer c.Stop()
		if err := c.InstallServing(ctx); err != nil {
			return err
		}
		if err := c.InstallTraefik(ctx); err != nil {
			return err
		}
		if *eventing {
			if err := c.InstallEventing(ctx); err != nil {
				return err
			}
		}
		fmt.Printf("\nThe cluster is up. In another shell:\n\n  export KUBECONFIG=%s\n  kubectl get pods -A\n\n"+
			"Knative Services answer through Traefik at http://%s with Host NAME.NAMESPACE.%s.\nCtrl-C stops the cluster and removes everything it made.\n",
			c.Kubeconfig, c.IngressAddr, cluster.Domain)
		<-ctx.Done()
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", cmd)
}
