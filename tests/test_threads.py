"""twolayer.set_num_threads and get_num_threads (python/twolayer/_threads.py): bad thread counts
are clear errors, each case in a forked child. (What the threads do is in test_concurrency.py.)"""

from __future__ import annotations

import pytest
from isolation import Case, expect_error

import twolayer

# fmt: off
BAD_THREAD_COUNTS = [
    Case("threads-zero", lambda: twolayer.set_num_threads(0), ValueError, r"n must be between 1 and 1024, got 0"),
    Case("threads-negative", lambda: twolayer.set_num_threads(-2), ValueError, r"n must be between 1 and 1024, got -2"),
    Case("threads-too-many", lambda: twolayer.set_num_threads(10**12), ValueError, r"n must be between 1 and 1024, got 1000000000000"),
    Case("threads-float", lambda: twolayer.set_num_threads(2.0), TypeError, r"n must be an int, got float"),
    Case("threads-str", lambda: twolayer.set_num_threads("2"), TypeError, r"n must be an int, got str"),
    Case("threads-bool", lambda: twolayer.set_num_threads(True), TypeError, r"n must be an int, got bool"),
]
# fmt: on


@pytest.mark.parametrize("case", BAD_THREAD_COUNTS, ids=[c.id for c in BAD_THREAD_COUNTS])
def test_bad_thread_count(case: Case) -> None:
    expect_error(case.value, case.exc, case.message)


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in BAD_THREAD_COUNTS]
    assert len(ids) == len(set(ids)), ids
