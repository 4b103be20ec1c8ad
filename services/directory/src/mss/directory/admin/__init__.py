"""The directory's admin API: the GHT, its establishments (tenants), domains and mailboxes."""
