"""The TaskHubStore contract, run against every store (SQLite and in-memory).

After microsoft/durabletask-go ``tests/backend_test.go``: instance creation and its errors, episodes
(load, commit, guard against a stale execution), batches (one transaction: all or nothing), timers
becoming visible, suspended instances, activity work items (claim, complete once, abandon, locks released
at start), terminal and continue-as-new clean-up, child instances, purge, query paging, and the error
contract (StoreError, nothing changed).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from devhost.durable import history as h
from devhost.durable.errors import InstanceAlreadyExists, InstanceGone, InstanceNotFound, StoreError
from devhost.durable.models import TERMINAL_STATUSES, InstanceState
from devhost.durable.outcome import ActivityTask, ChildStart, EpisodeOutcome, Outbound, TimerMessage
from devhost.durable.store import ActivityResult, EpisodeCommit, TaskHubStore
from tests.devhost.durable.store.conftest import T0, new

LATER = T0 + timedelta(hours=1)


def first_episode(store: TaskHubStore, iid: str, **outcome_fields: object) -> EpisodeCommit:
    """The commit of instance ``iid``'s first episode (consumes its visible messages): Running with
    OrchestratorStarted + the messages + OrchestratorCompleted, plus ``outcome_fields``."""
    (loaded,) = store.load_episodes([iid], T0)
    append = [h.orchestrator_started(T0), *(m.event for m in loaded.messages), h.orchestrator_completed(T0)]
    fields: dict = {"append": append, **outcome_fields}
    return EpisodeCommit(iid, loaded.instance.execution_id, len(loaded.history),
                         EpisodeOutcome(str(fields.pop("status", "Running")), **fields),
                         [m.id for m in loaded.messages])


def types(store: TaskHubStore, iid: str, at=T0) -> list[int]:
    """EventTypes of the inbox messages visible at ``at``."""
    found = store.load_episodes([iid], at)
    return [m.event["EventType"] for m in found[0].messages] if found else []


# -- instances -------------------------------------------------------------------------------------------
def test_create_get_and_replace(store: TaskHubStore) -> None:
    """A created instance reads back as given; a running id is refused; a terminal one is replaced."""
    state = new(store, "i1")
    assert store.get_instance("i1") == state
    assert store.get_instance("nope") is None and store.get_history("nope") == []
    with pytest.raises(InstanceAlreadyExists):
        new(store, "i1")
    store.commit_episodes([first_episode(store, "i1", status="Completed", output='"done"')], T0)
    assert store.get_instance("i1").runtime_status == "Completed"  # type: ignore[union-attr]
    again = new(store, "i1", name="other")
    assert store.get_instance("i1") == again and store.get_history("i1") == []
    assert types(store, "i1") == [h.EXECUTION_STARTED]


def test_enqueue_errors_and_visibility(store: TaskHubStore) -> None:
    """Unknown id → InstanceNotFound; status in ``refuse`` → InstanceGone; an event is visible from its
    Timestamp on."""
    new(store, "i1")
    with pytest.raises(InstanceNotFound):
        store.enqueue("nope", h.event_raised(T0, "E", None), TERMINAL_STATUSES)
    store.enqueue("i1", h.event_raised(LATER, "E", None), TERMINAL_STATUSES)
    assert types(store, "i1") == [h.EXECUTION_STARTED]
    assert types(store, "i1", LATER) == [h.EXECUTION_STARTED, h.EVENT_RAISED]
    store.commit_episodes([first_episode(store, "i1", status="Failed")], T0)
    with pytest.raises(InstanceGone):
        store.enqueue("i1", h.event_raised(T0, "E", None), TERMINAL_STATUSES)
    store.enqueue("i1", h.execution_rewound(T0, "r"), ())  # allowed when not refused


# -- episodes --------------------------------------------------------------------------------------------
def test_episode_persists_everything_and_consumes_its_messages(store: TaskHubStore) -> None:
    """History, status, custom status, work items and timers land; consumed messages are gone; the
    ExecutionStarted message comes first whatever the arrival order."""
    new(store, "i1")
    store.enqueue("i1", h.event_raised(T0, "early", None))
    assert types(store, "i1") == [h.EXECUTION_STARTED, h.EVENT_RAISED]
    commit = first_episode(
        store, "i1", custom_status='"step 1"', custom_status_set=True,
        activities=[ActivityTask(0, "a", '"x"')],
        timers=[TimerMessage(1, LATER, h.timer_fired(LATER, 1, LATER))],
    )
    commit.outcome.append[3:3] = [h.task_scheduled(T0, 0, "a", '"x"'), h.timer_created(T0, 1, LATER)]
    assert store.commit_episodes([commit], T0) == ["i1"]
    assert [e["EventType"] for e in store.get_history("i1")] == [12, 0, 15, 4, 10, 13]
    state = store.get_instance("i1")
    assert state is not None and state.runtime_status == "Running" and state.custom_status == '"step 1"'
    assert types(store, "i1") == []
    (item,) = store.claim_activities(10)
    assert (item.instance_id, item.execution_id, item.task_id, item.name, item.input) == (
        "i1", "x-i1", 0, "a", '"x"')
    (loaded,) = store.load_episodes(["i1"], T0)
    assert loaded.history_texts and len(loaded.history) == 6


def test_stale_execution_commits_nothing(store: TaskHubStore) -> None:
    """An episode for an execution that is no longer current (restarted, purged) is skipped."""
    new(store, "i1")
    commit = first_episode(store, "i1")
    stale = EpisodeCommit("i1", "other-exec", 0, commit.outcome, commit.consumed)
    assert store.commit_episodes([stale], T0) == []
    assert store.get_history("i1") == [] and types(store, "i1") == [h.EXECUTION_STARTED]
    store.purge("i1")
    assert store.commit_episodes([commit], T0) == []
    assert store.load_episodes(["i1"], T0) == []


def test_batch_is_one_transaction(store: TaskHubStore) -> None:
    """Several episodes commit together; when one fails part-way, none of them is committed (StoreError or
    the error raised, and the store unchanged)."""
    new(store, "a")
    new(store, "b")
    good_a, good_b = first_episode(store, "a"), first_episode(store, "b")
    broken = EpisodeCommit("b", good_b.execution_id, 0, EpisodeOutcome(
        "Running", append=good_b.outcome.append,
        child_starts=[ChildStart("kid", "k", None, None, 0, {"no": "OrchestrationInstance"})]),
        good_b.consumed)
    with pytest.raises(Exception):  # noqa: B017 - any error; the point is that nothing changed
        store.commit_episodes([good_a, broken], T0)
    assert store.get_history("a") == []
    assert store.get_instance("a").runtime_status == "Pending"  # type: ignore[union-attr]
    assert types(store, "a") == [h.EXECUTION_STARTED] and store.get_instance("kid") is None
    assert sorted(store.commit_episodes([good_a, good_b], T0)) == ["a", "b"]
    assert store.ready_instances(T0, 10, set()) == []


def test_timers_become_visible(store: TaskHubStore) -> None:
    """A timer is an inbox message invisible until it fires; next_visible_at names the earliest; a
    cancelled timer is deleted."""
    new(store, "i1")
    later2 = LATER + timedelta(minutes=5)
    store.commit_episodes([first_episode(store, "i1", timers=[
        TimerMessage(1, LATER, h.timer_fired(LATER, 1, LATER)),
        TimerMessage(2, later2, h.timer_fired(later2, 2, later2)),
    ])], T0)
    assert store.ready_instances(T0, 10, set()) == []
    assert store.next_visible_at(T0) == LATER
    assert store.ready_instances(LATER, 10, set()) == ["i1"] and types(store, "i1", LATER) == [h.TIMER_FIRED]
    (loaded,) = store.load_episodes(["i1"], LATER)
    cancel = EpisodeCommit("i1", "x-i1", len(loaded.history), EpisodeOutcome(
        "Running", append=[h.orchestrator_started(LATER), h.orchestrator_completed(LATER)],
        cancel_timers=[2]),
        [m.id for m in loaded.messages])
    store.commit_episodes([cancel], LATER)
    assert store.next_visible_at(LATER) is None and store.ready_instances(later2, 10, set()) == []


def test_ready_instances_order_limit_exclude_and_suspended(store: TaskHubStore) -> None:
    """Oldest visible message first, at most ``limit``, never an excluded one; a Suspended instance is ready
    only for resume or terminate."""
    for iid in ("a", "b", "c"):
        new(store, iid)
    assert store.ready_instances(T0, 10, set()) == ["a", "b", "c"]
    assert store.ready_instances(T0, 2, {"a"}) == ["b", "c"]
    store.commit_episodes([first_episode(store, "b", status="Suspended")], T0)
    store.enqueue("b", h.event_raised(T0, "E", None))
    assert store.ready_instances(T0, 10, set()) == ["a", "c"]
    store.enqueue("b", h.execution_resumed(T0, None))  # ordered by its oldest message that can run
    assert store.ready_instances(T0, 10, set()) == ["a", "c", "b"]


def test_messages_children_and_terminal_cleanup(store: TaskHubStore) -> None:
    """A child start creates the child (or fails the parent's task when the id runs); messages reach
    existing instances only; a terminal outcome drops the inbox and unclaimed work."""
    new(store, "p")
    new(store, "busy")
    start = h.execution_started(T0, "kid", "kid", "x-kid", None, "", {"OrchestrationInstance": {
        "InstanceId": "p", "ExecutionId": "x-p"}, "Name": "orch", "Version": "", "TaskScheduleId": 0})
    taken = h.execution_started(T0, "kid", "busy", "x-busy2", None, "")
    store.commit_episodes([first_episode(
        store, "p", child_starts=[ChildStart("kid", "kid", None, None, 0, start),
                                  ChildStart("busy", "kid", None, None, 1, taken)],
        messages=[Outbound("busy", h.event_raised(T0, "hi", None)),
                  Outbound("ghost", h.event_raised(T0, "x", None))],
        activities=[ActivityTask(2, "a", None), ActivityTask(3, "b", None)],
    )], T0)
    kid = store.get_instance("kid")
    assert kid is not None and kid.parent_instance_id == "p" and kid.runtime_status == "Pending"
    assert types(store, "p") == [h.SUB_ORCHESTRATION_FAILED]
    assert types(store, "busy") == [h.EXECUTION_STARTED, h.EVENT_RAISED]
    assert store.get_instance("ghost") is None
    claimed = store.claim_activities(1)
    (loaded,) = store.load_episodes(["p"], T0)
    done = EpisodeCommit("p", "x-p", len(loaded.history), EpisodeOutcome(
        "Completed", append=[h.orchestrator_started(T0), h.orchestrator_completed(T0)], output='"ok"'), [])
    store.commit_episodes([done], T0)
    state = store.get_instance("p")
    assert state is not None and state.output == '"ok"' and state.completed_time == T0
    assert types(store, "p") == [] and store.claim_activities(10) == []  # unclaimed work item dropped
    assert store.complete_activities([ActivityResult(claimed[0], h.task_completed(T0, 2, None))], T0) == 1


def test_continue_as_new_keeps_raised_events(store: TaskHubStore) -> None:
    """Continue-as-new empties the history, switches the execution, drops work and non-event messages,
    keeps EventRaised and queues the new ExecutionStarted."""
    new(store, "i1")
    store.commit_episodes([first_episode(store, "i1", activities=[ActivityTask(0, "a", None)])], T0)
    store.enqueue("i1", h.event_raised(T0, "keep", None))
    store.enqueue("i1", h.execution_suspended(T0, None))
    (loaded,) = store.load_episodes(["i1"], T0)
    nxt = h.execution_started(T0, "orch", "i1", "x-next", '"again"', "1.0")
    store.commit_episodes([EpisodeCommit("i1", "x-i1", len(loaded.history), EpisodeOutcome(
        "ContinuedAsNew", append=[h.orchestrator_started(T0)], continue_as_new=nxt), [])], T0)
    state = store.get_instance("i1")
    assert state is not None and state.execution_id == "x-next" and state.input == '"again"'
    assert store.get_history("i1") == [] and store.claim_activities(10) == []
    assert sorted(types(store, "i1")) == [h.EXECUTION_STARTED, h.EVENT_RAISED]


# -- activities ------------------------------------------------------------------------------------------
def test_activity_claim_complete_abandon_release(store: TaskHubStore) -> None:
    """Claimed items are locked; a result is queued once; an abandoned item runs again; release_locks (at
    start) unlocks what a crashed run held."""
    new(store, "i1")
    store.commit_episodes([first_episode(store, "i1", activities=[
        ActivityTask(i, f"a{i}", None) for i in range(3)])], T0)
    first = store.claim_activities(2)
    assert [i.task_id for i in first] == [0, 1] and [i.task_id for i in store.claim_activities(5)] == [2]
    assert store.claim_activities(5) == [] and store.claim_activities(0) == []
    ok = ActivityResult(first[0], h.task_completed(T0, 0, '"r"'))
    assert store.complete_activities([ok], T0) == 1 and store.complete_activities([ok], T0) == 0
    assert types(store, "i1") == [h.TASK_COMPLETED]
    assert store.abandon_activities([first[1]]) == 1 and store.abandon_activities([first[0]]) == 0
    assert [i.task_id for i in store.claim_activities(5)] == [1]
    assert store.release_locks() == 2
    assert sorted(i.task_id for i in store.claim_activities(5)) == [1, 2]


# -- purge and query -------------------------------------------------------------------------------------
def test_purge_and_purge_by(store: TaskHubStore) -> None:
    """purge removes one instance with everything it owns; purge_by filters on creation time and status."""
    for n, iid in enumerate(("a", "b", "c")):
        new(store, iid, at=T0 + timedelta(minutes=n))
    store.commit_episodes([first_episode(store, "a", activities=[ActivityTask(0, "x", None)])], T0)
    assert store.purge("a") == 1 and store.purge("a") == 0
    assert store.get_instance("a") is None and store.get_history("a") == []
    assert store.claim_activities(5) == []
    store.commit_episodes([first_episode(store, "b", status="Completed")], T0)
    assert store.purge_by(created_from=T0, created_to=LATER, statuses=["Completed"]) == 1
    assert store.purge_by(created_from=T0, created_to=T0, statuses=["Pending"]) == 0
    assert store.purge_by(created_from=T0, created_to=LATER, statuses=["Pending"]) == 1
    assert store.query()[0] == []


def test_query_filters_and_pages(store: TaskHubStore) -> None:
    """Ordered by creation time then id; filters by time (inclusive), status and case-sensitive id prefix;
    ``top`` pages with a continuation token; a bad token is a ValueError."""
    for n in range(5):
        new(store, f"job-{n}", at=T0 + timedelta(minutes=n))
    new(store, "Job-X", at=T0)
    new(store, "other", at=T0 + timedelta(minutes=2))
    everything = [s.instance_id for s in store.query()[0]]
    assert everything == ["Job-X", "job-0", "job-1", "job-2", "other", "job-3", "job-4"]
    prefixed = store.query(instance_id_prefix="job-")[0]
    assert [s.instance_id for s in prefixed] == [f"job-{n}" for n in range(5)]
    window = store.query(created_from=T0 + timedelta(minutes=1), created_to=T0 + timedelta(minutes=2))[0]
    assert [s.instance_id for s in window] == ["job-1", "job-2", "other"]
    assert store.query(statuses=["Running"])[0] == []
    pages, token = [], None
    while True:
        page, token = store.query(top=3, continuation=token)
        pages.append([s.instance_id for s in page])
        if token is None:
            break
    assert pages == [everything[:3], everything[3:6], everything[6:]]
    with pytest.raises(ValueError):
        store.query(continuation="not a token")


# -- error contract --------------------------------------------------------------------------------------
# -- entities --------------------------------------------------------------------------------------------
def test_enqueue_entity_creates_the_entity_once_and_keeps_arrival_order(store: TaskHubStore) -> None:
    """The first operation creates the entity instance (Running, no input); later ones only queue; its
    messages load in arrival order and make it ready."""
    store.enqueue_entity("@counter@k", "counter", h.event_raised(T0, "op", '{"id":"1"}'))
    created = store.get_instance("@counter@k")
    assert created is not None and (created.name, created.runtime_status, created.input) == (
        "counter", "Running", None)
    store.commit_episodes([EpisodeCommit("@counter@k", created.execution_id, 0, EpisodeOutcome(
        "Running", input='{"exists":true,"state":"1"}', input_set=True), [])], T0)
    store.enqueue_entity("@counter@k", "counter", h.event_raised(LATER, "op", '{"id":"2"}'))
    store.enqueue_entity("@counter@k", "counter", h.event_raised(T0, "op", '{"id":"3"}'))
    assert store.get_instance("@counter@k").input == '{"exists":true,"state":"1"}'  # type: ignore[union-attr]
    assert store.ready_instances(T0, 10, set()) == ["@counter@k"]
    (loaded,) = store.load_episodes(["@counter@k"], LATER)
    assert [m.event["Input"] for m in loaded.messages] == ['{"id":"1"}', '{"id":"2"}', '{"id":"3"}']
    assert loaded.history == []


def test_entity_batch_commits_state_responses_and_signals_together(store: TaskHubStore) -> None:
    """One commit: consumed operations gone, the new input (state) written, a response queued for a caller
    that exists, a signal creating its target entity, a message to an unknown non-entity dropped; a broken
    batch beside it leaves all of that undone."""
    new(store, "caller")
    store.enqueue_entity("@acct@a", "acct", h.event_raised(T0, "op", '{"id":"r1"}'))
    (loaded,) = store.load_episodes(["@acct@a"], T0)
    outcome = EpisodeOutcome("Running", input='{"exists":true,"state":"5"}', input_set=True, messages=[
        Outbound("caller", h.event_raised(T0, "r1", '{"result":"5"}')),
        Outbound("@acct@b", h.event_raised(T0, "op", '{"id":"s1"}'), entity="acct"),
        Outbound("ghost", h.event_raised(T0, "r2", None)),
    ])
    consumed = [m.id for m in loaded.messages]
    commit = EpisodeCommit("@acct@a", loaded.instance.execution_id, 0, outcome, consumed)
    broken = EpisodeCommit("caller", "x-caller", 0, EpisodeOutcome("Running", child_starts=[
        ChildStart("kid", "k", None, None, 0, {"no": "OrchestrationInstance"})]), [])
    with pytest.raises(Exception):  # noqa: B017 - any error; the point is that nothing changed
        store.commit_episodes([commit, broken], T0)
    assert store.get_instance("@acct@b") is None and store.get_instance("@acct@a").input is None  # type: ignore[union-attr]
    assert store.commit_episodes([commit], T0) == ["@acct@a"]
    assert store.get_instance("@acct@a").input == '{"exists":true,"state":"5"}'  # type: ignore[union-attr]
    assert types(store, "@acct@a") == [] and types(store, "caller") == [h.EXECUTION_STARTED, h.EVENT_RAISED]
    target = store.get_instance("@acct@b")
    assert target is not None and target.name == "acct" and types(store, "@acct@b") == [h.EVENT_RAISED]
    assert store.get_instance("ghost") is None


def test_closed_store_raises_store_error_for_every_method(store: TaskHubStore) -> None:
    """Reads and writes alike raise StoreError (never a driver error) once the store cannot work."""
    state = InstanceState("i1", "o", "Pending", None, None, None, T0, T0)
    store.close()
    calls = [
        lambda: store.get_instance("i1"), lambda: store.get_history("i1"), lambda: store.query(),
        lambda: store.create_instance(state, h.execution_started(T0, "o", "i1", "e", None)),
        lambda: store.enqueue("i1", h.event_raised(T0, "E", None)), lambda: store.purge("i1"),
        lambda: store.purge_by(created_from=T0, created_to=T0, statuses=["Completed"]),
        lambda: store.ready_instances(T0, 1, set()), lambda: store.load_episodes(["i1"], T0),
        lambda: store.commit_episodes([], T0), lambda: store.next_visible_at(T0),
        lambda: store.release_locks(), lambda: store.claim_activities(1),
        lambda: store.complete_activities([], T0), lambda: store.abandon_activities([]),
        lambda: store.enqueue_entity("@e@k", "e", h.event_raised(T0, "op", "{}")),
    ]
    for call in calls:
        with pytest.raises(StoreError):
            call()
