"""The application layer: one write pipeline and the use cases that feed it."""
