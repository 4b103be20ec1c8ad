"""Pure egress logic: no I/O."""
