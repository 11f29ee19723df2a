"""Identity comparison (issue 9 item 4): look-alikes of a name match it; distinct names stay distinct."""

from __future__ import annotations

import pytest

from shared.approvals import refusal, tally
from shared.confusables import identity_key, skeleton
from shared.identity import same_identity

LOOK_ALIKES = [
    ("ａｌｉｃｅ", "fullwidth letters (NFKC)"),
    ("alice\u200b", "zero-width space (default ignorable)"),
    ("al\u00adice", "soft hyphen (default ignorable)"),
    ("\u2066alice\u2069", "bidi isolates (default ignorable)"),
    ("\u0430lice", "Cyrillic a (confusable skeleton)"),
    ("alic\u0435", "Cyrillic e (confusable skeleton)"),
    ("ali\u0441e", "Cyrillic es (confusable skeleton)"),
    ("alice\u0301", "combining acute accent"),
    ("ALİCE", "dotted capital I (case folding)"),
    ("ALICE", "upper case"),
    ("  alice ", "surrounding spaces"),
    ("\u0251lice", "Latin alpha (confusable skeleton)"),
]

DISTINCT = [
    ("alice", "alicia"),
    ("alice", "alice2"),
    ("alice", "bob"),
    ("bob", "rob"),
    ("ann", "anne"),
    ("li", "il"),
    ("alice@contoso.com", "alice@fabrikam.com"),
    ("amy", "arny2"),
    ("carol", "karol"),
]


@pytest.mark.parametrize(("name", "why"), LOOK_ALIKES, ids=[w for _, w in LOOK_ALIKES])
def test_look_alikes_are_the_same_identity(name, why):
    assert same_identity(name, "alice"), why
    assert identity_key(name) == "alice"


@pytest.mark.parametrize(("a", "b"), DISTINCT)
def test_distinct_names_stay_distinct(a, b):
    assert not same_identity(a, b)


def test_skeleton_follows_uts39_examples():
    """UTS #39 maps 'm' to 'rn' and Cyrillic 'а' to Latin 'a' (confusables.txt)."""
    assert skeleton("m") == skeleton("rn")
    assert skeleton("\u0430") == "a"


@pytest.mark.parametrize(("name", "_"), LOOK_ALIKES)
def test_look_alike_requester_cannot_approve_own_case(name, _):
    """The self-approval check uses the identity key."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    reason = refusal(name, ["approver"], requester="alice", allowed_roles=["approver"],
                     expires_at=now + timedelta(hours=1), now=now)
    assert reason is not None and "separation of duties" in reason


def test_quorum_counts_look_alikes_once():
    from datetime import UTC, datetime

    from shared.contracts.case import ApprovalDecision

    def d(who: str) -> ApprovalDecision:
        return ApprovalDecision(decision="approve", approver=who, roles=["approver"], at=datetime.now(UTC),
                                evidence_hash="sha256:x")

    assert tally([d("bob"), d("b\u043eb")], 2) is None
    assert tally([d("bob"), d("carol")], 2) == "approved"
