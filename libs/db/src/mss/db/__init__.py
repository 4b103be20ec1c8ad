"""PostgreSQL access for mss: schema migrations and connection pools."""
