package main

// replayJob is one replay; see the README of this directory.
type replayJob struct {
	Connection
}

func runReplay(job replayJob, out *events) error { return failure("engine_failed", "replay: not built yet") }
