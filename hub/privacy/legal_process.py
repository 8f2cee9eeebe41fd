"""The kinds of legal process an override names, and who may invoke one: listed once.

The override's body (`camhub.privacy.overrides`), its OpenAPI enum and the
transparency report's columns all read `KINDS`. The report keeps one counter
per kind (`Counts.overrides_<kind>`; a test fails if one is missing) and
counts a kind it does not know, from an older or newer hub's log, as other.
"""

from __future__ import annotations

KINDS = ("search_warrant", "court_order", "subpoena", "emergency", "preservation")
NEEDS_JUDGE = ("search_warrant", "court_order")  # a judge signs these; the override must name them
FOLLOW_UP_KINDS = ("search_warrant", "court_order", "subpoena")  # the process that may follow an emergency
EMERGENCY = "emergency"  # released at once; its follow-up is due within privacy.emergency_follow_up_hours
PRESERVATION = "preservation"  # places a hold and releases nothing
INVOKERS = ("owner", "custodian")  # the roles that upload legal documents and invoke overrides
