"""A key's state is computed from the timestamps of its row and the clock, the same in every
process: next -> active -> retiring -> retired, or retired at once by retired_at."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core.signing_keys import KeyState, KeyTimes

T = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ROTATED = KeyTimes(
    published_at=T,
    signs_from=T + timedelta(minutes=16),
    signs_until=T + timedelta(days=90),
    verifies_until=T + timedelta(days=90, minutes=15, seconds=30),
)


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (T, KeyState.NEXT),
        (T + timedelta(minutes=16), KeyState.ACTIVE),
        (T + timedelta(days=90) - timedelta(seconds=1), KeyState.ACTIVE),
        (T + timedelta(days=90), KeyState.RETIRING),
        (T + timedelta(days=90, minutes=15, seconds=29), KeyState.RETIRING),
        (T + timedelta(days=90, minutes=15, seconds=30), KeyState.RETIRED),
    ],
)
def test_a_key_moves_through_its_states_at_its_timestamps(moment, state):
    assert ROTATED.state(moment) is state


def test_an_active_key_without_a_successor_signs_on():
    key = KeyTimes(published_at=T, signs_from=T)

    assert key.state(T + timedelta(days=3650)) is KeyState.ACTIVE


def test_retired_at_retires_a_key_in_any_state():
    retired = KeyTimes(published_at=T, signs_from=T, retired_at=T + timedelta(minutes=1))

    assert retired.state(T) is KeyState.ACTIVE
    assert retired.state(T + timedelta(minutes=1)) is KeyState.RETIRED
