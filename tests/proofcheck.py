"""What "a proof passes" means, shared by the test_proofs_* files."""

from __future__ import annotations


def assert_every_claim_holds(result, min_claims: int = 1) -> None:
    """No error, at least `min_claims` claims, and each one passed (the failures listed)."""
    assert not result.error, result.error
    failed = [
        f"{c.key}: measured {c.measured}, expected {c.op} {c.expected}"
        for c in result.claims
        if not c.passed
    ]
    assert result.passed and not failed, failed
    assert len(result.claims) >= min_claims, f"only {len(result.claims)} claims"
