"""The process's SQLite write lock: urgent writers first, and a timeout never strands the rest."""

from __future__ import annotations

import threading
import time

from missionctl.db import WriteLock

LONG = 10.0


def _waiter(lock: WriteLock, name: str, order: list[str], *, urgent: bool) -> threading.Thread:
    def take() -> None:
        assert lock.acquire(urgent=urgent, timeout=LONG)
        order.append(name)
        lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    time.sleep(0.1)  # it is waiting by now: the lock is held
    return thread


def test_an_urgent_writer_goes_before_writers_that_waited_longer() -> None:
    lock = WriteLock()
    order: list[str] = []
    assert lock.acquire(urgent=False, timeout=LONG)
    threads = [
        _waiter(lock, "first", order, urgent=False),
        _waiter(lock, "second", order, urgent=False),
        _waiter(lock, "urgent", order, urgent=True),
    ]
    lock.release()
    for thread in threads:
        thread.join(LONG)
    assert order[0] == "urgent"
    assert sorted(order[1:]) == ["first", "second"]


def test_a_writer_that_times_out_leaves_the_lock_to_the_others() -> None:
    lock = WriteLock()
    order: list[str] = []
    assert lock.acquire(urgent=False, timeout=LONG)
    assert lock.acquire(urgent=True, timeout=0.05) is False
    waiting = _waiter(lock, "normal", order, urgent=False)
    lock.release()
    waiting.join(LONG)
    assert order == ["normal"]
    # Free again, and taken at once by either kind.
    assert lock.acquire(urgent=False, timeout=0.05)
    lock.release()
    assert lock.acquire(urgent=True, timeout=0.05)
    lock.release()
