"""mss controller: MssTenant resources into the directory."""
