"""The process's write lock: urgent writers first, no more holders than its permits, and a
timeout never strands the rest."""

from __future__ import annotations

import threading
import time

import pytest

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
    lock = WriteLock(2)
    order: list[str] = []
    assert lock.acquire(urgent=False, timeout=LONG)
    assert lock.acquire(urgent=False, timeout=LONG)  # both permits taken
    threads = [
        _waiter(lock, "first", order, urgent=False),
        _waiter(lock, "second", order, urgent=False),
        _waiter(lock, "urgent", order, urgent=True),
    ]
    lock.release()
    for thread in threads:
        thread.join(LONG)
    lock.release()
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


@pytest.mark.parametrize("permits", [1, 3])
def test_many_writers_of_both_kinds_exclude_each_other_and_all_get_in(permits: int) -> None:
    lock = WriteLock(permits)
    guard = threading.Lock()
    inside: list[int] = []
    overlaps: list[int] = []
    most: list[int] = [0]
    acquired: list[bool] = []
    rounds = 300

    def write(urgent: bool) -> None:
        for _ in range(rounds):
            acquired.append(lock.acquire(urgent=urgent, timeout=LONG))
            with guard:
                inside.append(1)
                most[0] = max(most[0], len(inside))
                if len(inside) > permits:
                    overlaps.append(len(inside))
            time.sleep(0.0001)  # let the others run while it holds the lock
            with guard:
                inside.pop()
            lock.release()

    threads = [threading.Thread(target=write, args=(n % 3 == 0,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LONG * 3)
    assert not any(thread.is_alive() for thread in threads)
    assert acquired == [True] * (8 * rounds)  # nobody waited out a timeout
    assert overlaps == []
    assert most[0] == permits  # every permit was used, none more
