"""The replay: every dumped record produced to its run's simulation topic, paced, confirmed and marked."""
