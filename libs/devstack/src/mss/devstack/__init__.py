"""Local infrastructure for ``task up`` and the tests: nats-server and PostgreSQL as processes."""
