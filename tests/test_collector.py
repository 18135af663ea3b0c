"""The cycle collector paused around a batch comes back as it was, whoever paused it and in whatever order."""
from __future__ import annotations

import gc
import threading

import pytest

from qscore.collector import collector_paused


def test_paused_inside_and_resumed_after_even_on_an_error():
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        with collector_paused():
            assert not gc.isenabled()
            1 / 0
    assert gc.isenabled()


def test_overlapping_pauses_resume_when_the_last_ends():
    first_in, second_done, states = threading.Event(), threading.Event(), []

    def long_batch():
        with collector_paused():
            first_in.set()
            second_done.wait(10)
            states.append(gc.isenabled())  # the other batch ended first: still paused

    t = threading.Thread(target=long_batch)
    t.start()
    first_in.wait(10)
    with collector_paused():
        pass
    second_done.set()
    t.join(10)
    assert states == [False] and gc.isenabled()


def test_a_collector_someone_else_disabled_stays_disabled():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
