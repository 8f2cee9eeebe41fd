"""Motion: the pure detector and state machine, and the per-camera watcher that drives recording."""
