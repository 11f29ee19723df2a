"""Orchestrator ``case_maintenance``: the singleton maintenance run started by the timer trigger.

Fixed instance id :data:`orchestrations.names.MAINTENANCE_INSTANCE_ID`; the timer skips a start while one is
running. Steps: find the work (approvals past their SLA, finished histories past retention), send each
reminder once (``notify`` with ``once``), purge the histories. Listing and purging need the durable
client, which only a function with a ``durableClient`` input binding gets, so those two steps are
client-bound activities (``activities/maintenance_steps.py``). Deterministic: the time it passes down is
``context.current_utc_datetime``. A reminder belongs to its case, so its ``notify`` input carries the
case's event id (from the pending request's evidence pack); the maintenance run's own steps have no event
and log ``event_id: null``.
"""

from __future__ import annotations

import azure.durable_functions as df

from orchestrations import names
from shared.contracts.effects import FindWorkInput, MaintenanceWork, NotifyInput, Purged, PurgeInput

bp = df.Blueprint()


def case_maintenance_orchestrator(context: df.DurableOrchestrationContext):
    """Returns ``{"at", "reminders", "purged"}``. Activity inputs and outputs are the typed models of
    ``shared/contracts/effects.py`` (:class:`FindWorkInput` → :class:`MaintenanceWork`, :class:`NotifyInput`,
    :class:`PurgeInput` → :class:`Purged`)."""
    now = context.current_utc_datetime
    raw = yield context.call_activity(names.FIND_MAINTENANCE_WORK, FindWorkInput(now=now).to_json())
    work = MaintenanceWork.model_validate(raw)
    if work.reminders:
        yield context.task_all(
            [
                context.call_activity(
                    names.NOTIFY,
                    NotifyInput(
                        kind="approval_reminder",
                        case_instance_id=r.case_instance_id,
                        event_id=r.event_id,
                        request=r.request,
                        once=True,
                    ).to_json(),
                )
                for r in work.reminders
            ]
        )
    purged = 0
    if work.purge:
        result = yield context.call_activity(
            names.PURGE_CASE_HISTORY, PurgeInput(instance_ids=work.purge).to_json()
        )
        purged = Purged.model_validate(result).purged
    return {"at": now.isoformat(), "reminders": len(work.reminders), "purged": purged}


@bp.orchestration_trigger(context_name="context")
def case_maintenance(context: df.DurableOrchestrationContext):
    """Registered orchestrator ``case_maintenance``."""
    return (yield from case_maintenance_orchestrator(context))
