"""Maintenance timer: starts the singleton ``case_maintenance`` orchestration on a schedule.

Schedule: the app setting ``CASE_MAINTENANCE_SCHEDULE`` (six-field NCRONTAB, default every 5 minutes in
``local.settings.sample.json``), bound as ``%CASE_MAINTENANCE_SCHEDULE%``. Singleton: the instance id is
fixed (:data:`orchestrations.names.MAINTENANCE_INSTANCE_ID`); when that instance is Pending or Running the
tick is skipped, otherwise it is started again under the same id (allowed for finished instances).
"""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from orchestrations.names import CASE_MAINTENANCE, MAINTENANCE_INSTANCE_ID
from shared.telemetry import RunFields, log_step

bp = df.Blueprint()
logger = logging.getLogger("case.maintenance")

ACTIVE = {"Pending", "Running"}


async def start_maintenance(client: df.DurableOrchestrationClient) -> bool:
    """Start the singleton unless it is active; True when started."""
    status = await client.get_status(MAINTENANCE_INSTANCE_ID)
    runtime = getattr(status, "runtime_status", None) if status else None
    if runtime is not None and str(getattr(runtime, "value", runtime)) in ACTIVE:
        log_step(
            logger,
            "maintenance_skipped",
            RunFields(run_id=MAINTENANCE_INSTANCE_ID, workflow=CASE_MAINTENANCE),
        )
        return False
    await client.start_new(CASE_MAINTENANCE, MAINTENANCE_INSTANCE_ID, None)
    log_step(
        logger, "maintenance_started", RunFields(run_id=MAINTENANCE_INSTANCE_ID, workflow=CASE_MAINTENANCE)
    )
    return True


@bp.timer_trigger(
    schedule="%CASE_MAINTENANCE_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=False
)
@bp.durable_client_input(client_name="client")
async def maintenance_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Timer tick: start the maintenance singleton (see the module docstring)."""
    await start_maintenance(client)
