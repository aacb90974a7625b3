//go:build tools

// Package tools pins KWOK's command, which controlplane/build.sh builds with
// `go build sigs.k8s.io/kwok/cmd/kwok`, so `go mod tidy` keeps its dependencies in go.sum.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
