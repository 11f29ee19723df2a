"""The case's steps as verbs: what ``case_workflow`` reads as the business process.

:class:`CaseRun` adds to the run's mechanics (:class:`orchestrations.run_state.RunState`: budgets, retries,
custom status, audit queue, logs) one method per business step. Each builds the step's typed input
(``shared/contracts/steps.py``, ``effects.py``), schedules it through :meth:`RunState.step` (retry budgets,
``stalled``), reads the output with its model and keeps the run's bookkeeping (judgment tally, run fields,
stage, audit records). The generator verbs are used as ``value = yield from run.assess(policy, c)``.
Outputs the case does not use (``notify``'s :class:`Notified`, ``record_audit``'s :class:`AuditAppended`)
are not read at all, so an output shape recorded by older code can never fail a replay here.
Deterministic like everything the orchestrator runs: no I/O, clock, randomness or settings.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any

from orchestrations import names, versions
from orchestrations.run_state import RunState
from shared.approvals import full_outcome
from shared.contracts.case import (
    ApprovalGate,
    ApprovalOutcome,
    ApprovalRequest,
    Assessment,
    Classification,
    Outcome,
    PolicyDecision,
)
from shared.contracts.effects import ApplyInput, ApplyMode, ApplyResult, ApplyTerms, NotifyInput
from shared.contracts.steps import (
    AssessCaseInput,
    Assessed,
    AssessInput,
    AuditRecordIn,
    Classified,
    ClassifyInput,
    Decided,
    DecideInput,
    LoadPolicyInput,
    SpecialistJudgment,
)
from shared.judgment_budget import compact_record
from shared.policy_ref import LoadedPolicy, from_load_result
from shared.stages import FINAL_STAGES

Steps = Generator[Any, Any, Any]


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (at most 500 characters), or its type name when empty."""
    text = str(exc).strip()
    return text.splitlines()[0][:500] if text else type(exc).__name__


class CaseRun(RunState):
    """One case's run, with a verb per business step (module docstring)."""

    #: The audit record id reserved for the stage after ``classified`` and left to ``awaiting_approval``
    #: (orchestration version 8.0, :meth:`decide`); None otherwise.
    next_stage_id: str | None = None

    # -- received → classified -------------------------------------------------------------------------
    def receive(self) -> None:
        """The case was received: first custom status, the ``received`` audit record and log lines."""
        event = self.event
        self.publish()
        self.audit(
            "stage",
            {
                "stage": "received",
                "event_type": event.type,
                "requester": event.requester,
                "format": event.format,
                "channel": event.channel,
                "subject": event.subject,
            },
        )
        self.log("received", event_type=event.type)
        self.announce("received")

    def load_policy(self) -> Steps:
        """``load_policy``: the policy by reference; its default budgets and retry apply from now on.
        Returns the :class:`LoadedPolicy`. Instances of orchestration version < 3.0 only (from 3.0 on,
        :meth:`classify` loads it)."""
        def build() -> LoadPolicyInput:
            return LoadPolicyInput(case_instance_id=self.case_id, event_id=self.event.event_id)

        raw = yield from self.step(names.LOAD_POLICY, lambda: self.activity(names.LOAD_POLICY, build))
        policy = from_load_result(raw)
        self.use_defaults(policy.budgets, policy.retry)
        return policy

    def classify(self, policy: LoadedPolicy | None) -> Steps:
        """``classify_case`` with the judgment budget so far. ``policy`` None (orchestration version 3.0):
        the step loads the policy and returns its reference with the classification, and the policy's
        default budgets and retry apply from then on (as after :meth:`load_policy`). Returns
        ``(LoadedPolicy, Classification)``."""

        def make() -> Any:  # the attempt is charged even when replay takes the input from the history
            judgment = self.judgment.step_input(names.CLASSIFY_CASE, 0, 1)
            return self.activity(names.CLASSIFY_CASE, lambda: ClassifyInput(
                case_instance_id=self.case_id,
                event=self.event,
                **(policy.input if policy is not None else {}),
                **judgment,
            ))

        raw = yield from self.step(names.CLASSIFY_CASE, make)
        classified = Classified.read(raw, "classify")
        self.judgment.add(classified.judgment)
        if policy is None:
            if classified.policy is None:
                raise ValueError("classify_case returned no policy for an input that named none")
            policy = from_load_result(classified.policy.to_json())
            self.use_defaults(policy.budgets, policy.retry)
        return policy, classified.value

    def assess(self, policy: LoadedPolicy, classification: Classification) -> Steps:
        """The specialists (``names.SPECIALIST_ACTIVITIES``), each with its judgment slot, retried together
        as one step: from orchestration version 7.0 one ``assess_case`` activity (the event,
        classification and policy reference once, the specialists' names and slots in order; its output
        the three results in that order), before it the three ``assess_*`` activities in parallel
        (``task_all``). Returns their :class:`Assessment` list in the specialists' order. Raises
        ``ValueError`` when ``assess_case`` returned another specialist than asked at a place (a history
        recorded with another order: replay must not read it as this one)."""
        specialists = list(names.SPECIALIST_ACTIVITIES.items())
        one = self.version >= versions.ONE_ASSESSMENT

        def build(judgment: dict[str, Any]) -> Callable[[], AssessInput]:
            return lambda: AssessInput(
                case_instance_id=self.case_id,
                event=self.event,
                classification=classification,
                **policy.input,
                **judgment,
            )

        def build_one(slots: list[dict[str, Any]]) -> AssessCaseInput:
            return AssessCaseInput(
                case_instance_id=self.case_id,
                event=self.event,
                classification=classification,
                **policy.input,
                specialists=[
                    SpecialistJudgment(specialist=name, **slot)  # type: ignore[arg-type]
                    for slot, (name, _) in zip(slots, specialists, strict=True)
                ],
            )

        def make() -> Any:  # slots charged in order, even when replay takes the inputs from the history
            of = len(specialists)
            slots = [self.judgment.step_input("specialists", index, of) for index in range(of)]
            if one:
                return self.activity(names.ASSESS_CASE, lambda: build_one(slots))
            return self.context.task_all(
                [self.activity(act, build(slot)) for slot, (_, act) in zip(slots, specialists, strict=True)]
            )

        results = yield from self.step("specialists", make)
        if one:
            results = results["assessed"] if isinstance(results, dict) else None
            if not isinstance(results, list):
                raise ValueError(f"{names.ASSESS_CASE} returned no list of assessments")
        assessments: list[Assessment] = []
        for raw, (name, _) in zip(results, specialists, strict=True):
            assessed = Assessed.read(raw, name)
            if one and assessed.value.specialist != name:
                asked = f"{names.ASSESS_CASE} returned {assessed.value.specialist!r} where {name!r} was asked"
                raise ValueError(asked)
            self.judgment.add(assessed.judgment)
            assessments.append(assessed.value)
        return assessments

    def decide(
        self, policy: LoadedPolicy, classification: Classification, assessments: list[Assessment]
    ) -> Steps:
        """``decide_policy`` (merge + policy); the decision's budgets and retry apply from now on, and the
        case enters ``classified`` with its judgment on record. From orchestration version 4.0 the step
        appends the queued records and the ``classified`` record itself (its id taken here, so a case whose
        decision fails for good has no record with that id); before, the record is queued with the
        decision copied in. From 8.0 it is also offered the ``ready_to_apply`` record the case enters next
        when the decision needs no approval, under an id taken here with the ``classified`` one (the id of
        the stage after ``classified``, as in every version when nothing fails): it appends it then
        (``Decided.ready_recorded``) and :meth:`enter` is told (``recorded=True``); when the decision needs an
        approval, ``awaiting_approval`` goes under that id (:attr:`next_stage_id`). Ids are taken before the
        step, so the stall records of its retries never share one (an append is idempotent per id: a record
        under a taken id would be lost). A result that reports another record, or one for a decision needing
        an approval, or none for a decision needing none, fails the case (``ValueError``). Returns
        :class:`Decided`."""
        in_step = self.version >= versions.DECIDE_RECORDS
        record = (
            self.audit("stage", {"stage": "classified", "judgment": self._judgment_template()}, queue=False)
            if in_step
            else None
        )
        ready = (
            self.audit("stage", {"stage": "ready_to_apply", "approval": "not required"}, queue=False)
            if self.version >= versions.READY_IN_DECIDE
            else None
        )

        def build() -> DecideInput:
            return DecideInput(
                case_instance_id=self.case_id,
                event=self.event,
                classification=classification,
                assessments=assessments,
                **policy.input,
                **({"record": self._brief(record)} if record is not None else {}),
                **({"ready": self._brief(ready)} if ready is not None else {}),
            )

        raw = yield from self.step(
            names.DECIDE_POLICY, lambda: self.activity(names.DECIDE_POLICY, build), with_audit=in_step
        )
        decided = Decided.model_validate(raw)
        self.use_decision(decided.decision)
        if record is not None:
            if decided.recorded != record.record_id:
                raise ValueError(f"decide_policy did not record {record.record_id}")
            self._check_ready(decided, ready)
            self.enter("classified", recorded=True)
            return decided
        # merge and decision as recorded (an older history's lack later defaults: its audit record stays)
        self.enter(
            "classified",
            classification=classification.model_dump(mode="json"),
            merge=raw["merge"],
            decision=raw["decision"],
            judgment=self._judgment_audit(),
        )
        return decided

    def _check_ready(self, decided: Decided, ready: AuditRecordIn | None) -> None:
        """What ``decide_policy`` says of the ``ready`` record it was offered (version 8.0) against the
        decision: appended exactly when no approval is needed. Keeps the reserved id for
        ``awaiting_approval`` otherwise. Raises ``ValueError`` on a mismatch (a bug in the step)."""
        auto = decided.decision.approval.rule == "none"
        if ready is None:
            if decided.ready_recorded is not None:
                raise ValueError(f"decide_policy recorded {decided.ready_recorded}, which it was not offered")
            return
        if decided.ready_recorded != (ready.record_id if auto else None):
            raise ValueError(
                f"decide_policy recorded {decided.ready_recorded!r} for {ready.record_id} "
                f"({'no approval' if auto else 'an approval'} needed)"
            )
        self.next_stage_id = None if auto else ready.record_id

    def _brief(self, record: AuditRecordIn) -> AuditRecordIn:
        """``record`` as decide's input carries it: from orchestration version 5.0 with its id relative
        to the case (``:002:stage``; ``AuditRecordIn.filled`` completes it)."""
        if self.version < versions.LEAN_INPUTS:
            return record
        return record.brief_for({"case_instance_id": self.case_id}, lean=True)

    def _judgment_audit(self) -> dict[str, Any]:
        """The case's judgment for the audit record (summary + every step's record); its summary also goes
        to the custom status and the run fields (tokens, cost, source)."""
        summary = self.judgment.summary()
        self.tracker.describe_judgment({k: v for k, v in summary.items() if k != "steps"})
        self.fields = self.fields.with_(
            cost_estimate=summary["cost"], tokens=summary["tokens"], judgment_source=summary["source"]
        )
        return {**summary, "records": [r.model_dump(mode="json") for r in self.judgment.records]}

    def _judgment_template(self) -> dict[str, Any]:
        """:meth:`_judgment_audit` with compact records (``decide_policy`` writes them in full); from
        orchestration version 5.0 only the compact records and the case's ``usage`` (without zero fields):
        the step computes the summary from them (``shared.judgment_budget.expand_judgment_audit``)."""
        judgment = self._judgment_audit()
        records = [compact_record(r) for r in self.judgment.records]
        if self.version >= versions.LEAN_INPUTS:
            usage = self.judgment.usage.model_dump(mode="json", exclude_defaults=True)
            return {"records": records, "usage": usage}
        return {**judgment, "records": records}

    # -- approval -----------------------------------------------------------------------------------------
    def request_approval(self, request: ApprovalRequest) -> Steps:
        """Ask the tier's reviewers: ``approval_requested`` (first tier) or ``approval_escalated`` on the
        audit trail and the log, then ``notify`` (with the audit flush)."""
        request_json = request.model_dump(mode="json")
        kind = "approval_requested" if request.tier == 0 else "approval_escalated"
        self.audit(
            kind,
            {
                "tier": request.tier,
                "roles": list(request.roles),
                "expires_at": request_json["expires_at"],
                "evidence_hash": request.evidence_hash,
                "pack": request_json["pack"],
            },
        )
        self.log(kind, tier=request.tier)
        def notice() -> NotifyInput:
            return NotifyInput(kind=kind, event_id=self.event.event_id, request=request_json)

        yield from self.step(names.NOTIFY, lambda: self.activity(names.NOTIFY, notice), with_audit=True)

    def await_approval(self, request: ApprovalRequest, gate: ApprovalGate) -> Steps:
        """Show ``request`` as pending, run the tier's ``approval_tier`` sub-orchestration (instance
        ``request.approval_instance_id``) on ``gate`` until it decides or expires, then clear it. Returns
        the tier's :class:`ApprovalOutcome`."""
        self.tracker.await_approval(request)
        self.publish()
        raw = yield self.sub_orchestrator(
            names.APPROVAL_TIER, gate.model_dump(mode="json"), request.approval_instance_id
        )
        outcome = full_outcome(raw, gate, request.approval_instance_id)  # brief from tiers of 6.0 on
        self.tracker.clear_approval()
        self.publish()
        return outcome

    def record_tier(self, request: ApprovalRequest, outcome: ApprovalOutcome, carried: int) -> None:
        """Put the tier's decisions on the audit trail (accepted ones beyond the ``carried`` from earlier
        tiers, refused ones with their reason), its outcome in the run fields, one log line with the wait."""
        for accepted in outcome.accepted[carried:]:
            self.audit("decision", accepted.model_dump(mode="json"))
        for refused in outcome.refused:
            self.audit("decision_refused", refused.model_dump(mode="json"))
        self.fields = self.fields.with_(decision=outcome.outcome)
        waited_s = (outcome.decided_at - request.requested_at).total_seconds()
        self.log("approval_tier_finished", tier=request.tier, outcome=outcome.outcome, waited_s=waited_s)

    # -- apply and close ----------------------------------------------------------------------------------
    def apply(self, decision: PolicyDecision, mode: ApplyMode, approval: ApprovalOutcome | None) -> Steps:
        """``apply_action`` (with the audit flush) at this attempt's orchestration time (from orchestration
        version 5.0 with the decision's :class:`ApplyTerms` and the event without its ``data``), then the
        ``side_effect`` audit record (with ``outcome`` when reporting a rejection or expiry). Returns the
        :class:`ApplyResult` (``refused`` is a business outcome, not a failure)."""

        lean = self.version >= versions.LEAN_INPUTS  # the terms it acts under, the event without its data

        def build(at: datetime) -> ApplyInput:
            acting: dict[str, Any] = {"terms": ApplyTerms.of(decision)} if lean else {"decision": decision}
            return ApplyInput(
                case_instance_id=self.case_id,
                event=self.event.model_copy(update={"data": {}}) if lean else self.event,
                **acting,
                mode=mode,
                approval=approval,
                at=at,
            )

        def make() -> Any:  # ``at``: this attempt's time; the ledger's busy grace runs on this clock
            at = self.now()
            return self.activity(names.APPLY_ACTION, lambda: build(at))

        raw = yield from self.step(names.APPLY_ACTION, make, with_audit=True)
        result = ApplyResult.model_validate(raw)
        record: dict[str, Any] = {
            "action": decision.action, "tool": decision.tool, "result": result.to_json()
        }
        if mode in ("rejected", "expired"):
            record["outcome"] = mode
        self.audit("side_effect", record)
        return result

    def close(self, outcome: Outcome) -> Steps:
        """Enter the final stage, record it, tell the requester (``notify``; the closing steps may use the
        budget's closing reserve). Returns ``outcome``."""
        self.tracker.finish(outcome)
        self.publish()
        self.audit("stage", {"stage": outcome.status, "outcome": outcome.model_dump(mode="json")})
        self.log(outcome.status, reason=outcome.reason)
        self.announce(outcome.status, outcome.reason)
        self.closing = True
        def notice() -> NotifyInput:
            return NotifyInput(
                kind=f"case_{outcome.status}",  # type: ignore[arg-type]
                case_instance_id=self.case_id,
                requester=self.event.requester,
                event_id=self.event.event_id,
                event_type=self.event.type,
                outcome=outcome.model_dump(mode="json"),
            )

        yield from self.step(names.NOTIFY, lambda: self.activity(names.NOTIFY, notice), with_audit=True)
        return outcome

    def close_failed(self, reason: str) -> Steps:
        """Stop the case as ``failed`` with ``reason``; the closing steps are best effort (a failure while
        closing is logged, the stage is already set). When the case already reached a final stage, only
        logs. Returns the case's :class:`Outcome`."""
        outcome = Outcome(status="failed", reason=reason, at=self.now())
        self.best_effort = True
        if self.tracker.stage in FINAL_STAGES:  # failed while closing: keep the final stage, note the failure
            self.log("closing_failed", reason=reason)
            return self.tracker.status.outcome or outcome
        try:
            return (yield from self.close(outcome))
        except Exception as exc:  # closing itself failed (e.g. storage down): the stage is already set
            if type(exc) is not Exception:
                raise
            self.log("closing_failed", reason=first_line(exc))
            return outcome
