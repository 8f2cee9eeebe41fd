"""Privacy: the pieces that decide and prove how footage may leave the hub.

- `audit`: the tamper-evident log every release is written to before it happens.
- `service.Privacy`: opens the rest together and runs the clock task.
- `consent` (the request queue and owners' decisions), `requesters`
  (self-registration), `overrides` (legal process, notice, follow-ups),
  `holds` (kept from retention).
- `egress`: the only code that gives footage to anyone outside the
  household; `trim` cuts clips to a window; `package` writes and verifies
  export packages.
- `transparency`: the report, computed from the audit log.
- `api`, `openapi`, `requests_cli`, `package_cli`, `transparency_cli`: how
  people reach them. See docs/privacy.md.
"""
