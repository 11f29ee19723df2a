"""The case-events queue: the same normalize → start path as POST /api/events, for queued events.

Queue ``%CASE_EVENTS_QUEUE%`` (app setting, default ``case-events``) on connection ``AzureWebJobsStorage``.
Message formats: see ``shared/normalize/__init__.py`` (structured CloudEvent, plain event, or an HTTP envelope
``{"headers", "body"}`` for GitHub deliveries and binary CloudEvents).

Poison handling. A message that cannot be normalized will fail the same way on every attempt, so instead of
raising (the host would retry it ``maxDequeueCount`` times, 5 in host.json, each after the visibility
timeout, before moving it to ``<queue>-poison``) this function writes it to ``<queue>-poison`` itself at once
and returns, which completes (deletes) the original. The poison copy is byte-identical in storage: the body
the host hands us is the base64-decoded message, and we re-encode those same bytes with the SDK's
``BinaryBase64EncodePolicy``, the encoding the host reads and writes. The reason is logged (never added to
the message). A GitHub ``ping`` relayed on the queue opens no case and goes to the poison queue as
well, so nothing sent to the queue disappears unseen. Failures that may pass (the task hub or storage
unreachable) are raised, so the host's own retry and poison mechanism applies to them; so does a message
the host cannot bind at all (bytes that are not UTF-8 text never reach this function), which the host's
retry path also moves unchanged.
"""

from __future__ import annotations

import asyncio
import logging

import azure.durable_functions as df
import azure.functions as func

from shared.normalize import NormalizeError, normalize_queue_message
from shared.settings import AppSettings
from shared.storage import ensure_queue, storage_faults
from triggers.ingress import start_case

QUEUE_FUNCTION = "ingest_event_queue"
POISON_SUFFIX = "-poison"

bp = df.Blueprint()
logger = logging.getLogger("case.ingress.queue")


def send_to_poison(settings: AppSettings, body: bytes) -> str:
    """Put ``body`` unchanged on ``<events queue>-poison`` (created if missing); returns that queue's name."""
    name = settings.events_queue + POISON_SUFFIX
    with storage_faults("poison queue"):  # a queue gone since it was created is created again next time
        ensure_queue(settings, name, binary=True).send_message(body)
    return name


@bp.function_name(QUEUE_FUNCTION)
@bp.queue_trigger(arg_name="msg", queue_name="%CASE_EVENTS_QUEUE%", connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def ingest_event_queue(msg: func.QueueMessage, client: df.DurableOrchestrationClient) -> None:
    """Normalize the message and start or find its case; unparseable messages go to the poison queue."""
    settings = AppSettings.current()
    body = msg.get_body()
    try:
        event = normalize_queue_message(body, settings)
    except NormalizeError as exc:
        poison = await asyncio.to_thread(send_to_poison, settings, body)  # sync SDK: off the event loop
        logger.warning(
            "queue message %s moved to %s: %s (%s)", msg.id, poison, exc.message, ", ".join(exc.fields)
        )
        return
    await start_case(client, event)
