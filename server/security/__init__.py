"""Who may call: bearer tokens, roles, TLS and mutual TLS."""
