//go:build tools

// Package tools pins the node binaries of the sandbox's real nodes, which controlplane/build.sh
// builds with `go build k8s.io/kubernetes/cmd/<name>` from the same k8s.io/kubernetes as the
// control plane (controlplane/kube), so `go mod tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
