"""L0 vocabulary shared by every layer: errors, addresses, time and token sources."""
