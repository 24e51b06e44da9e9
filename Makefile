# kntrace — every target is a thin wrapper over a script in hack/.
SHELL := /bin/bash

.PHONY: help build test bench demo lint tools fuzz docs

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

tools: ## build the real components the tests run (etcd, kube-apiserver, Collector, Jaeger, kn, Knative binaries) into ~/.cache/kntrace
	@hack/tools.sh

build: ## build kntrace's binaries into bin/
	@hack/build.sh

test: ## install what the tests need, then run unit, integration and end-to-end tests
	@hack/test.sh

bench: ## run every kntrace-vs-upstream comparison and print the table
	@hack/bench.sh

demo: ## a real single-node Kubernetes 1.35 cluster (Knative Serving and Eventing v0.50.0, Traefik) with kntrace: cold-start and eventing traces as waterfalls (root; Ctrl-C stops; ARGS=-no-wait)
	@hack/demo.sh $(ARGS)

lint: ## gofmt, go vet, license headers
	@hack/lint.sh

fuzz: ## run each fuzz target for FUZZTIME (default 30s)
	@hack/fuzz.sh

docs: ## regenerate docs/cli.md from the kn trace commands; check the docs' examples and links
	@hack/docs.sh
