"""The ``mss`` command: operate a running backbone over NATS."""
