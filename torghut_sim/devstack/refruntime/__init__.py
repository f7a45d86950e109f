"""The local reference runtime: a controller that plays the TA Flink job and the Torghut service through
the same contracts (Kubernetes objects, topics, ClickHouse tables, Postgres tables) as production."""
