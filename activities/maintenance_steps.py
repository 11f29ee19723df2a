"""Client-bound maintenance activities: list instances and purge histories through the durable client.

An activity cannot use the orchestration context's APIs, and in Python only a function with a
``durableClient`` input binding gets a ``DurableOrchestrationClient``. The binding is allowed on any
function type (it is an ordinary input binding), so these two activities declare it
(``@bp.durable_client_input``) next to their ``activityTrigger``; the SDK's middleware makes them ``async``.
The purge therefore goes through the durable client (``purge_instance_history``), never around it.
Instances are listed with :func:`triggers.case_source.list_instances`, which follows the continuation
token page by page (the SDK's ``get_status_by`` reads only the first page of 100).
Inputs and outputs are typed (``shared/contracts/effects.py``); each runs in ``@case_step``
(``activities/step.py``) with a span ``case.<activity name>`` whose ``case.run_id`` is the maintenance
instance id.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from activities.step import Step, case_step
from orchestrations import names
from shared.contracts.effects import FindWorkInput, MaintenanceWork, Purged, PurgeInput, Reminder
from shared.maintenance import InstanceView, orphaned_tiers, overdue_approvals, purge_candidates
from shared.settings import AppSettings
from shared.telemetry import RunFields
from triggers import case_source

logger = logging.getLogger("case_workflow.maintenance")

bp = df.Blueprint()

_FIELDS = RunFields(run_id=names.MAINTENANCE_INSTANCE_ID, workflow="case_maintenance")

_LISTED = [
    df.OrchestrationRuntimeStatus.Running,
    df.OrchestrationRuntimeStatus.Completed,
    df.OrchestrationRuntimeStatus.Failed,
    df.OrchestrationRuntimeStatus.Terminated,
]


def _fields(_payload: Any) -> RunFields:
    return _FIELDS


def _view(status: Any) -> InstanceView:
    runtime = status.runtime_status
    return InstanceView(
        instance_id=status.instance_id,
        name=status.name,
        runtime_status=getattr(runtime, "value", str(runtime)),
        last_updated=status.last_updated_time,
        custom_status=status.custom_status,
    )


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
@case_step("find_maintenance_work", FindWorkInput, done="maintenance_planned", fields=_fields, logger=logger)
async def find_maintenance_work(
    payload: FindWorkInput, step: Step, client: df.DurableOrchestrationClient
) -> MaintenanceWork:
    """List instances (every page) and select reminders and purges at ``now`` (:class:`FindWorkInput`:
    the orchestrator's time). Returns :class:`MaintenanceWork` (``{"reminders": [{case_instance_id,
    request}], "purge": [instance ids]}``); orphaned approval tiers are terminated on the way.
    Raises ``CaseSourceError`` / ``httpx.HTTPError`` when the task hub cannot be listed (the activity
    fails; nothing is terminated, reminded or purged)."""
    settings = AppSettings.current()
    listed = await case_source.list_instances(client, runtime_statuses=[s.value for s in _LISTED])
    views = [_view(DurableOrchestrationStatus.from_json(item)) for item in listed]  # SDK's parsing
    for tier_id in orphaned_tiers(views):  # terminate cascades (issue 10 item 9); best effort
        try:
            await client.terminate(tier_id, "the case was terminated")
        except Exception as exc:
            logger.info("terminating orphaned approval tier %s failed: %s", tier_id, exc)
    reminders = overdue_approvals(views, payload.now)
    keep = [names.MAINTENANCE_INSTANCE_ID]
    purge = purge_candidates(views, payload.now, settings.retention_days, keep=keep)
    step.note(instances=len(views), reminders=len(reminders), purge=len(purge))
    return MaintenanceWork(reminders=[Reminder.model_validate(r) for r in reminders], purge=purge)


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
@case_step("purge_case_history", PurgeInput, done="maintenance_purged", fields=_fields, logger=logger)
async def purge_case_history(
    payload: PurgeInput, step: Step, client: df.DurableOrchestrationClient
) -> Purged:
    """Purge the durable history of ``instance_ids`` (:class:`PurgeInput`); returns :class:`Purged`
    (``{"purged": n}``). The audit trail and the ledger are not touched."""
    purged = 0
    for instance_id in payload.instance_ids:
        result = await client.purge_instance_history(instance_id)
        purged += int(getattr(result, "instances_deleted", 0) or 0)
    step.attribute("case.purged", purged)
    step.note(purged=purged)
    return Purged(purged=purged)
