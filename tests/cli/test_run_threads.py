"""`camhub run` starts its to_thread pool whole, so the hub's thread count does not step up later."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from camhub.cli.run import started_executor


def test_every_worker_of_the_pool_is_started_up_front() -> None:
    before = threading.active_count()
    pool = started_executor(5)
    try:
        assert threading.active_count() - before == 5
        # Work afterwards, even five jobs at once, starts no new thread.
        barrier = threading.Barrier(5)
        for job in [pool.submit(barrier.wait, 10.0) for _ in range(5)]:
            job.result()
        assert threading.active_count() - before == 5
    finally:
        pool.shutdown()


def test_the_default_pool_starts_threads_late_which_is_what_this_avoids() -> None:
    before = threading.active_count()
    pool = ThreadPoolExecutor(max_workers=5)
    try:
        pool.submit(int).result()
        assert threading.active_count() - before == 1
    finally:
        pool.shutdown()
