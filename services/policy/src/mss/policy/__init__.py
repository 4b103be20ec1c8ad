"""mss policy service."""
