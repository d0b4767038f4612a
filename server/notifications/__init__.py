"""Notifications leave the service: the outbox's delivery worker and its webhook signatures."""
