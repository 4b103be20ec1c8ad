"""Authentication of submission clients: passwords, Pro Sante Connect tokens, failure limits."""
