"""The runtime's own Prometheus metrics: parse a scrape, diff two scrapes, scrape around a run."""
