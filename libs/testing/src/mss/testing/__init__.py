"""pytest fixtures for mss: real servers on loopback."""
