"""The source dump: Kafka source topics of one window, as one globally ordered, hashed JSON-lines file."""
