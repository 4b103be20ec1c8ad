"""The allowed-domain list in operation: load, verify, distribute through NATS KV, refresh."""
