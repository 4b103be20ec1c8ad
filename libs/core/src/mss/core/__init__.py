"""Shared foundations of every mss service: settings, logging, errors and ids."""
