"""mss tracing service."""
