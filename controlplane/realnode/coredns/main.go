// Command coredns is a slim CoreDNS for the sandbox's real nodes: coremain plus only the plugins
// the Corefile written by src/sandbox/realnode/coredns.ts uses. Built by controlplane/build.sh.
package main

import (
	"github.com/coredns/coredns/coremain"

	// Plugins register themselves; the Corefile's directives must all be listed here
	// (without bind: "no action found for directive 'bind'").
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
