"""Kafka plumbing shared by the dump, the replay and the stores: connection settings, progress, watermarks."""
