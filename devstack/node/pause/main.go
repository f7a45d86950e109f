// Command pause is the sandbox process of every pod on the local stack's node: it holds the pod's
// namespaces and waits until it is told to stop. Built static, it is the whole pause image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	// SIGCHLD is ignored by default; as PID 1 of the pod only TERM/INT end the wait.
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
}
