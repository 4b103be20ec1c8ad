"""Pure policy logic: no I/O, no bus."""
