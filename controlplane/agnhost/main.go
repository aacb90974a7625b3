// Command agnhost-webhook is `agnhost webhook`: the admission webhook Kubernetes' own e2e tests
// deploy (k8s.io/kubernetes/test/images/agnhost/webhook, same version as the control plane),
// run as the top-level command instead of a subcommand of the whole agnhost image. The benchmark
// uses it as a Go peer of our webhook. Built by controlplane/build.sh.
//
//	agnhost-webhook --tls-cert-file tls.crt --tls-private-key-file tls.key --port 8443 \
//	  --sidecar-image IMAGE    # needed by /mutating-pods-sidecar
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/test/images/agnhost/webhook"
)

func main() {
	cmd := webhook.CmdWebhook
	cmd.Use = "agnhost-webhook"
	// As upstream agnhost's main does: cli.Run adds the logging flags (-v, ...) and runs it.
	os.Exit(cli.Run(cmd))
}
