"""Client-bound maintenance activities: list instances and purge histories through the durable client.

An activity cannot use the orchestration context's APIs, and in Python only a function with a
``durableClient`` input binding gets a ``DurableOrchestrationClient``. The binding is allowed on any
function type (it is an ordinary input binding), so these two activities declare it
(``@bp.durable_client_input``) next to their ``activityTrigger``; the SDK's middleware makes them ``async``.
The purge therefore goes through the durable client (``purge_instance_history``), never around it.
Instances are listed with :func:`triggers.case_source.list_instances`, which follows the continuation
token page by page (the SDK's ``get_status_by`` reads only the first page of 100).
Each runs in a span ``case.<activity name>`` with ``case.run_id`` = the maintenance instance id.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from orchestrations import names
from shared.maintenance import InstanceView, orphaned_tiers, overdue_approvals, purge_candidates
from shared.settings import AppSettings
from shared.telemetry import RunFields, elapsed_ms, log_step, set_run_fields, span
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
async def find_maintenance_work(
    payload: dict[str, Any], client: df.DurableOrchestrationClient
) -> dict[str, Any]:
    """List instances (every page) and select reminders and purges at ``payload["now"]`` (ISO UTC, the
    orchestrator's time). Returns ``{"reminders": [{case_instance_id, request}], "purge": [instance ids]}``.
    Raises ``CaseSourceError`` / ``httpx.HTTPError`` when the task hub cannot be listed (the activity
    fails; nothing is terminated, reminded or purged)."""
    started = time.perf_counter()
    with span("find_maintenance_work", _FIELDS) as current:
        settings = AppSettings.current()
        now = datetime.fromisoformat(payload["now"]).astimezone(UTC)
        listed = await case_source.list_instances(client, runtime_statuses=[s.value for s in _LISTED])
        views = [_view(DurableOrchestrationStatus.from_json(item)) for item in listed]  # SDK's parsing
        for tier_id in orphaned_tiers(views):  # terminate cascades (issue 10 item 9); best effort
            try:
                await client.terminate(tier_id, "the case was terminated")
            except Exception as exc:
                logger.info("terminating orphaned approval tier %s failed: %s", tier_id, exc)
        reminders = overdue_approvals(views, now)
        purge = purge_candidates(views, now, settings.retention_days, keep=[names.MAINTENANCE_INSTANCE_ID])
        set_run_fields(current, _FIELDS.with_(latency_ms=elapsed_ms(started)))
        log_step(
            logger,
            "maintenance_planned",
            _FIELDS,
            instances=len(views),
            reminders=len(reminders),
            purge=len(purge),
        )
    return {"reminders": reminders, "purge": purge}


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def purge_case_history(
    payload: dict[str, Any], client: df.DurableOrchestrationClient
) -> dict[str, Any]:
    """Purge the durable history of ``payload["instance_ids"]``; returns ``{"purged": n}``. The audit trail
    and the ledger are not touched."""
    started = time.perf_counter()
    with span("purge_case_history", _FIELDS) as current:
        purged = 0
        for instance_id in payload["instance_ids"]:
            result = await client.purge_instance_history(instance_id)
            purged += int(getattr(result, "instances_deleted", 0) or 0)
        set_run_fields(current, _FIELDS.with_(latency_ms=elapsed_ms(started)))
        current.set_attribute("case.purged", purged)
        log_step(logger, "maintenance_purged", _FIELDS, purged=purged)
    return {"purged": purged}
