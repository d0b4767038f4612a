"""The supplier service-quality domain: pure models, commands, events and decisions.

Nothing here performs I/O, reads the wall clock, or imports grpc, a database driver or
durable_rules. Time enters through each command's ``occurred_at``; policy enters through the
``Policy`` port in :mod:`sqm.domain.ports`.
"""
