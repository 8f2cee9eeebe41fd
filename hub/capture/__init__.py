"""Capture: sources' readers, reconnect with backoff, packets and decoded frames."""
