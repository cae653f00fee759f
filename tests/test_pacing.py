"""The builder builds just before the next scrape while scrapes keep a rhythm (pacing.py)."""

from __future__ import annotations

import time

import pytest

from qsan_exporter.exposition import Exposition
from qsan_exporter.exposition.pacing import ScrapePacer
from tests.test_exposition import _snapshot


def _pacer(*asks: float) -> ScrapePacer:
    pacer = ScrapePacer()
    for at in asks:
        pacer.asked(at)
    return pacer


def test_no_rhythm_until_three_requests() -> None:
    assert _pacer().wait(100.0, 0.1) == 0.0
    assert _pacer(100.0, 115.0).wait(116.0, 0.1) == 0.0


def test_a_build_waits_until_its_lead_before_the_next_scrape() -> None:
    pacer = _pacer(100.0, 115.0, 130.0)
    assert pacer.period() == 15.0
    # Next request at 145; lead max(0.5, 3 x 0.2 s) = 0.6 s: start at 144.4.
    assert pacer.wait(131.0, 0.2) == pytest.approx(13.4)
    assert pacer.wait(144.4, 0.2) == 0.0
    assert pacer.wait(145.0, 0.2) == 0.0  # due: the request is at hand


def test_a_long_build_starts_earlier() -> None:
    assert _pacer(0.0, 60.0, 120.0).wait(150.0, 2.0) == pytest.approx(180.0 - 6.0 - 150.0)


def test_a_replica_pair_is_paced_by_the_shorter_gap() -> None:
    pacer = _pacer(0.0, 4.0, 15.0, 19.0)  # two Prometheus, 15 s, 4 s apart
    assert pacer.period() == 4.0
    assert pacer.wait(20.0, 0.1) == pytest.approx(23.0 - 0.5 - 20.0)


def test_a_scraper_that_went_away_leaves_building_on_change() -> None:
    pacer = _pacer(100.0, 115.0, 130.0)
    assert pacer.wait(140.0, 0.1) > 0.0  # before the request: waits
    assert pacer.wait(145.0 + 3.76, 0.1) == 0.0  # later than 145 + 15/4: the rhythm is lost


def test_requests_faster_than_a_second_are_no_rhythm() -> None:
    assert _pacer(10.0, 10.5, 11.0).period() is None
    assert _pacer(10.0, 10.0, 10.0, 10.0).period() is None  # one instant counts once


@pytest.mark.slow
def test_paced_builds_follow_the_scrapes_not_the_publishes() -> None:
    """Real time: a scrape every 2 s, a publish every 0.1 s. Unpaced, the builder builds once a
    second (its minimum gap); once three scrapes show the rhythm, once per scrape."""
    exposition = Exposition()
    exposition.start()
    try:
        generation, scrapes, builds_at_rhythm = 0, 0, 0
        started = time.monotonic()
        next_scrape = started
        while scrapes < 7 and time.monotonic() - started < 20.0:
            generation += 1
            exposition.publish(_snapshot("a", generation, disks=2, data_at=time.time()))
            if time.monotonic() >= next_scrape:
                built = exposition.built(openmetrics=True, compress=True)
                if scrapes >= 3:  # paced: built just before this scrape (0.5 s lead)
                    assert built is not None and exposition.version - built[0] <= 10
                exposition.body(time.time(), openmetrics=True, compress=True)
                scrapes += 1
                next_scrape += 2.0
                if scrapes == 3:
                    builds_at_rhythm = exposition.stats.builds
            time.sleep(0.1)
        paced = exposition.stats.builds - builds_at_rhythm
    finally:
        exposition.close()
    assert scrapes == 7
    # Four scrapes after the third (6, 8, 10, 12 s): a build before each, not one a second (8).
    assert 3 <= paced <= 5, paced
