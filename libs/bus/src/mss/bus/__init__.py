"""NATS JetStream plumbing shared by the mss services."""
