"""Privacy: the pieces that decide and prove how footage may leave the hub.

`hub.privacy.audit` is the tamper-evident log every release is written to
before it happens; consent, overrides and the egress choke point build on it.
"""
