"""Export packages: the zip an outside party receives, and its offline verification. See docs/exports.md.

- `format`: what a package is (member names, the manifest's schema, the
  proof document, the README a recipient reads). Both sides use it.
- `writer`: makes a package (the manifest bytes; the zip, hashed while it
  copies and written durably). The egress choke point decides what goes in.
- `verifier`: `camhub export verify`: checks a package with nothing but the
  package and, better, a key got out of band, and says what that proves.

The verifier imports only the format; the writer runs the verifier's audit
check before it writes, never the reverse, so what a recipient relies on does
not pass through the code that built the package (docs/decisions.md).
"""
