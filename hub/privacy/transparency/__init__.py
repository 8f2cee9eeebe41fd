"""The transparency report: what left the hub and on what authority, per month, from the audit log alone.

- `tally`: the pure count (`build_report`) over audit entries, and its values;
- `source`: reads the log's entries from its SQLite file, off the event loop;
- `text`: the tables `camhub transparency` prints;
- `routes`: `GET /api/transparency` and its schema.

What each count means is in docs/audit.md.
"""
