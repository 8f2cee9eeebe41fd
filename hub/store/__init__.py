"""The clip index (SQLite) and the files it describes."""
