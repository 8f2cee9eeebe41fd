"""Discovery: cameras heard on the home network, listed for the owner, adopted on request.

- model.py: service records, findings and streams, cleaned of hostile input;
- describe.py: the TXT conventions integrations share (`generic_describer`).
Nothing here is recorded until an owner adopts it (docs/discovery.md).
"""
