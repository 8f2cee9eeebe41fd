"""Privacy: the pieces that decide and prove how footage may leave the hub.

- `service.Privacy`: opens the rest together and runs the clock task.
- `consent` (the request queue and owners' decisions), `requesters`
  (self-registration), `overrides` (legal process; its kinds in
  `legal_process`, its documents in `documents`, notices and missed
  follow-ups in `override_notices`), `holds` (kept from retention).
- `egress`: the only code that gives footage to anyone outside the
  household; `share_links` the links that deliver what it releases; `trim`
  cuts clips to a window; `package` writes and verifies
  export packages.
- `transparency/`: the report, computed from the audit log alone (its tally,
  source, text and route).
- `request_routes`, `account_routes`, `override_routes` and
  `transparency.routes` (with `routes` and `openapi`, what they share): how
  people reach them over HTTP; `camhub.cli` has the commands. See docs/privacy.md.
"""
