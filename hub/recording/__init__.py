"""Recording: pre-roll ring, clip writer (stream copy), clip finisher and retention."""
