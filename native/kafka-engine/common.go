package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// engineVersion changes whenever the job or event format changes; Python checks it before use.
const engineVersion = "torghut-kafka-engine/1"

// Failure is an error with the stable reason code Python raises it under.
type Failure struct {
	Reason  string
	Message string
}

func (f *Failure) Error() string { return f.Message }

func failure(reason, format string, args ...any) error {
	return &Failure{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Connection is how to reach the cluster; the password is only ever used, never printed.
type Connection struct {
	Brokers          []string `json:"brokers"`
	SecurityProtocol string   `json:"security_protocol"`
	SaslMechanism    string   `json:"sasl_mechanism"`
	SaslUsername     string   `json:"sasl_username"`
	SaslPassword     string   `json:"sasl_password"`
}

// describe names the cluster for messages, without the secret.
func (c Connection) describe() string {
	user := ""
	if c.SaslUsername != "" {
		user = " as " + c.SaslUsername
	}
	return fmt.Sprintf("%s (%s%s)", strings.Join(c.Brokers, ","), c.SecurityProtocol, user)
}

// clientOptions are the franz-go options that reach the cluster as the connection says.
func (c Connection) clientOptions() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, failure("kafka_connection_invalid", "no bootstrap servers")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ClientID("torghut-sim-engine")}
	protocol := c.SecurityProtocol
	if protocol == "" {
		protocol = "PLAINTEXT"
	}
	switch protocol {
	case "PLAINTEXT", "SASL_PLAINTEXT":
	case "SSL", "SASL_SSL":
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	default:
		return nil, failure("kafka_connection_invalid", "unknown security_protocol %q", protocol)
	}
	if strings.HasPrefix(protocol, "SASL_") {
		mechanism, err := c.saslMechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
}

func (c Connection) saslMechanism() (sasl.Mechanism, error) {
	switch strings.ToUpper(c.SaslMechanism) {
	case "PLAIN":
		return plain.Auth{User: c.SaslUsername, Pass: c.SaslPassword}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.SaslUsername, Pass: c.SaslPassword}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.SaslUsername, Pass: c.SaslPassword}.AsSha512Mechanism(), nil
	}
	return nil, failure("kafka_connection_invalid", "unsupported sasl_mechanism %q", c.SaslMechanism)
}

// pingCluster fails with broker_unreachable when no broker answers within the timeout.
func pingCluster(client *kgo.Client, conn Connection, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := client.Ping(ctx); err != nil {
		return failure("broker_unreachable", "Kafka at %s did not answer: %v", conn.describe(), err)
	}
	return nil
}

// events writes one JSON object per line to stdout; safe for concurrent use.
type events struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newEvents(w io.Writer) *events { return &events{enc: json.NewEncoder(w)} }

func (e *events) emit(event map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enc.Encode(event); err != nil {
		fmt.Fprintf(os.Stderr, "cannot write an event: %v\n", err)
	}
}

// progress reports how many records of a phase are done, of how many expected (0 when unknown).
func (e *events) progress(phase string, done, total int64) {
	e.emit(map[string]any{"event": "progress", "phase": phase, "done": done, "total": total})
}

// result reports the finished job.
func (e *events) result(body map[string]any) {
	body["event"] = "result"
	e.emit(body)
}

// fail reports the error that ended the job, with its reason code.
func (e *events) fail(err error) {
	var f *Failure
	if !errors.As(err, &f) {
		f = &Failure{Reason: "engine_failed", Message: err.Error()}
	}
	e.emit(map[string]any{"event": "error", "reason": f.Reason, "message": f.Message})
}

func bytesReader(raw []byte) io.Reader { return bytes.NewReader(raw) }
