"""Test configuration: real servers come from the mss.testing fixtures."""

pytest_plugins = ["mss.testing.fixtures"]
