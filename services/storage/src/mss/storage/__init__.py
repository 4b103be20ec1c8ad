"""mss storage service."""
