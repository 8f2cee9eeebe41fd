"""The `camhub` command: one module per command group."""
