// Command torghut-kafka-engine runs the per-record work of torghut-sim's dump and replay natively.
//
// Python plans (offsets, topics, markers, refusals) and hands one job as JSON on stdin; this program
// reads or writes the records and reports JSON lines on stdout: progress events while it works, then
// one result or one error event. The job may hold a SASL password, so it never travels in argv or env.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: torghut-kafka-engine dump|replay|version < job.json")
		os.Exit(2)
	}
	out := newEvents(os.Stdout)
	var err error
	switch os.Args[1] {
	case "version":
		fmt.Println(engineVersion)
		return
	case "dump":
		err = runJob(out, func(raw []byte) error {
			var job dumpJob
			if err := decodeJob(raw, &job); err != nil {
				return err
			}
			return runDump(job, out)
		})
	case "replay":
		err = runJob(out, func(raw []byte) error {
			var job replayJob
			if err := decodeJob(raw, &job); err != nil {
				return err
			}
			return runReplay(job, out)
		})
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		out.fail(err)
		os.Exit(1)
	}
}

// runJob reads the whole job from stdin and runs it.
func runJob(out *events, run func(raw []byte) error) error {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		return failure("engine_job_invalid", "cannot read the job from stdin: %v", err)
	}
	if path := os.Getenv(cpuProfileEnv); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return err
		}
		defer stop()
	}
	return run(raw)
}

// cpuProfileEnv names a file to write a pprof CPU profile of a dump or replay to (a tuning aid).
const cpuProfileEnv = "TORGHUT_KAFKA_ENGINE_CPUPROFILE"

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, failure("engine_failed", "cannot create the CPU profile %s: %v", path, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, failure("engine_failed", "cannot start the CPU profile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// decodeJob parses a job strictly: an unknown field is a version mismatch between Python and the engine.
func decodeJob(raw []byte, job any) error {
	dec := json.NewDecoder(bytesReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(job); err != nil {
		return failure("engine_job_invalid", "the job is not valid: %v", err)
	}
	return nil
}
