"""Password hashing keeps the production cost; the suite's cheaper hasher is only for tests."""

from __future__ import annotations

import pytest
from argon2.profiles import RFC_9106_LOW_MEMORY

from promoter.accounts.passwords import Passwords, WeakPassword
from tests.conftest import TEST_PASSWORDS


def test_production_hashes_are_argon2id_with_the_rfc_9106_low_memory_profile() -> None:
    stored = Passwords().hash("correct horse battery")
    profile = RFC_9106_LOW_MEMORY
    assert stored.startswith(
        f"$argon2id$v=19$m={profile.memory_cost},t={profile.time_cost},p={profile.parallelism}$"
    )
    assert Passwords().verify(stored, "correct horse battery")
    assert not Passwords().verify(stored, "correct horse battery!")


def test_a_hash_made_at_a_lower_cost_is_rehashed_at_the_next_sign_in() -> None:
    cheap = TEST_PASSWORDS.hash("correct horse battery")
    assert Passwords().verify(cheap, "correct horse battery")
    assert Passwords().needs_rehash(cheap)
    assert not TEST_PASSWORDS.needs_rehash(cheap)


@pytest.mark.parametrize("password", ["short", "x" * 1025, "with\x00nul-in-it"])
def test_weak_passwords_are_refused_before_hashing(password: str) -> None:
    with pytest.raises(WeakPassword):
        Passwords().hash(password)


def test_overlong_or_malformed_input_never_verifies() -> None:
    stored = TEST_PASSWORDS.hash("correct horse battery")
    assert not Passwords().verify(stored, "x" * 1025)
    assert not Passwords().verify("not a hash", "correct horse battery")
