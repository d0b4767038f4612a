"""The ``sqm`` command line: serve, policy, db and simulate commands."""
