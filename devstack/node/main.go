// Command node-devstack runs the node side of the local stack's cluster from one binary:
// `node-devstack kubelet|kube-scheduler|kube-controller-manager <flags>`.
//
// It links the same k8s.io/kubernetes version as devstack/kube (the API server), from the same module
// graph, so the node and the control plane can never drift apart; one binary costs a single build.
package main

import (
	"context"
	"fmt"
	"os"
	_ "time/tzdata" // CronJob time zones, as the upstream controller-manager links them.

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"

	// The registrations the upstream mains make: JSON logs and client and version metrics.
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: node-devstack kubelet|kube-scheduler|kube-controller-manager [flags]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var command *cobra.Command
	switch os.Args[1] {
	case "kubelet":
		command = kubelet.NewKubeletCommand(context.Background())
	case "kube-scheduler":
		command = scheduler.NewSchedulerCommand()
	case "kube-controller-manager":
		command = controllermanager.NewControllerManagerCommand()
	default:
		usage()
	}
	command.SetArgs(os.Args[2:])
	os.Exit(cli.Run(command))
}
