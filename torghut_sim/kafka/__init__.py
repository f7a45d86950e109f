"""Kafka plumbing shared by the source dump and the replay: connection settings and progress reports."""
