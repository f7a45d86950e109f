"""Kafka plumbing shared by the dump, the replay and the stores: connection, progress, topic readiness."""
