"""mss directory service."""
