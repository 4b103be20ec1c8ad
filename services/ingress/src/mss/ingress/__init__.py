"""mss ingress service."""
