"""Versions of the case orchestration: which steps an instance schedules, by the version it was started with.

A running case replays its recorded history on every episode, so code that schedules other activities than
the history recorded would break it (docs/durable-extension-protocol.md#replay). Changes of that kind are
versioned the Durable Functions way
(https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-orchestration-versioning):
host.json ``extensions.durableTask.defaultVersion`` (= :data:`CURRENT`) stamps every new instance
(``ExecutionStarted.Version``, read back as ``context.version``), the default ``versionMatchStrategy``
``CurrentOrOlder`` lets older instances run on newer code, and the orchestrator branches on the version the
instance was started with. Instances started before versioning have version ``""`` (= 1).

- 1 (``""``): the queued audit records are flushed by a ``record_audit`` activity in parallel with the
  step they go with (``task_all``);
- 2.0: the queued audit records travel in the input of the step they go with (``StepInput.audit``,
  appended by ``@case_step`` with the step: before, beside or after its body): no ``record_audit`` activity;
- 3.0: no ``load_policy`` activity: ``classify_case`` loads the policy and returns its reference and
  defaults with the classification (the steps before it run on the code's default retry and budgets, as
  ``load_policy`` did);
- 4.0: ``decide_policy`` appends the records queued so far (``received``) and the ``classified`` record,
  which it completes with the classification, merge and decision it has (``DecideInput.record``): the
  decision is no longer copied into the next step's input as part of an audit record;
- 5.0: lean inputs: ``apply_action`` gets the terms of the decision it acts under (``ApplyInput.terms``:
  action, tool, adapter, approval rule/required/roles) instead of the whole decision, and the event without
  its ``data``; audit records riding in a step's input name their case relatively (``:005:decision``)
  and leave out a ``data`` the input holds whole (``data_from``: the approver's decision is
  ``approval.accepted.0`` of apply's input); ``decide_policy``'s ``classified`` template carries the judgment
  records and usage only (the step computes the summary). Activities of 4.0 cannot read these inputs;
- 6.0: the ``approval_tier`` sub-orchestration returns the decisions it accepted without the evidence hash,
  case and approval instance ids and tier it was given (``shared.approvals.brief_outcome``; the case restores
  them, ``full_outcome``), and hands ``verify_decision`` the raised decision as a JSON object instead of
  its text. The case schedules as in 5.0; the tier branches on its own version;
- 7.0: the three specialists run as one ``assess_case`` activity instead of ``assess_policy``,
  ``assess_risk`` and ``assess_requester_history`` fanned out (``task_all``): its input carries the event,
  classification and policy reference once and each specialist's name and judgment slot (charged as
  before, in the same order), its output the three ``Assessed`` results in that order; retried as one step
  as before. Two activity executions less per case.
- 8.0: ``decide_policy`` is also offered the ``ready_to_apply`` stage record (``DecideInput.ready``) and
  appends it with the ``classified`` one when the decision needs no approval: ``apply_action`` of an
  auto-approved case then has no record to append before its effect (one blob upload less per case).

Deterministic: the version comes from the history (``ExecutionStarted``), never from settings.
"""

from __future__ import annotations

#: The version new instances get: must equal host.json ``extensions.durableTask.defaultVersion``
#: (``tests/unit/orchestrations/test_versions.py`` checks it). A ``System.Version`` text, so the host
#: compares versions numerically.
CURRENT = "8.0"

#: From this major version on, audit records ride in the flushing step's input (no ``record_audit``).
AUDIT_IN_STEP = 2
#: From this major version on, ``classify_case`` loads the policy (no ``load_policy`` activity).
POLICY_IN_CLASSIFY = 3
#: From this major version on, ``decide_policy`` appends the ``classified`` record (and those queued before).
DECIDE_RECORDS = 4
#: From this major version on, the inputs are lean (``ApplyInput.terms``, brief riding records, the
#: judgment template without its summary).
LEAN_INPUTS = 5
#: From this major version on, an approval tier's output leaves out what the case knows of the decisions
#: it accepted, and ``verify_decision`` gets the decision as an object.
BRIEF_APPROVALS = 6
#: From this major version on, the specialists run in one ``assess_case`` activity.
ONE_ASSESSMENT = 7
#: From this major version on, ``decide_policy`` appends the ``ready_to_apply`` record of a case that needs
#: no approval (``DecideInput.ready``).
READY_IN_DECIDE = 8


def major(version: str | None) -> int:
    """The major number of an instance's version: ``""``/None (started before versioning) is 1, ``"2.0"``
    is 2. Raises ``ValueError`` for a version this code does not know (newer than :data:`CURRENT`, or not
    a number): such an instance must not run on this code (the host's ``CurrentOrOlder`` already refuses
    newer ones)."""
    if not version:
        return 1
    number = int(version.split(".", 1)[0])
    if number > int(CURRENT.split(".", 1)[0]):
        raise ValueError(f"orchestration version {version!r} is newer than this code's {CURRENT!r}")
    return number
