"""mss egress service."""
