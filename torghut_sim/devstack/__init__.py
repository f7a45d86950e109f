"""The local stack: real Postgres, Kafka, ClickHouse (chdb) and Kubernetes API servers on 127.0.0.1."""
