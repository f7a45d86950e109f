// Command kube-devstack runs the two servers of the local stack's Kubernetes API from one binary:
// `kube-devstack etcd <etcd flags>` and `kube-devstack kube-apiserver <kube-apiserver flags>`.
//
// One binary keeps etcd at exactly the version k8s.io/kubernetes pins and costs a single build.
package main

import (
	"fmt"
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"

	// The same registrations the upstream kube-apiserver main makes: JSON logs and client metrics.
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kube-devstack etcd|kube-apiserver [flags]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "etcd":
		// etcdmain reads its flags from args[1:], as if it were its own program.
		etcdmain.Main(os.Args[1:])
	case "kube-apiserver":
		command := app.NewAPIServerCommand()
		command.SetArgs(os.Args[2:])
		os.Exit(cli.Run(command))
	default:
		usage()
	}
}
