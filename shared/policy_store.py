"""The case policy, loaded once per process and found again by digest (see ``shared/policy_ref.py``).

- :func:`current`: the policy file (app setting ``CASE_POLICY_PATH``, default the shipped one) parsed and
  validated once per process, read again only when the file's modification time or size changes (one
  ``stat`` per call);
- :func:`resolve`: a reference ``{"version", "digest"}`` to its document: the process cache (every document
  this process loaded, by digest), else the policy file if its digest matches.

A reference that resolves to nothing means the policy file changed between ``load_policy`` and a judgment
step of the same case (a deployment in between). That step fails with ``PolicyError`` naming both versions
and the case stops as failed: it is never decided under a policy other than the one it recorded
(governance fails closed). The caches are per process and guarded by a lock (activities run on several
threads).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from shared import policy as policies
from shared.case_errors import PolicyError
from shared.policy import PolicyDocument, policy_from_data
from shared.policy_ref import DOCUMENT_KEY, REF_KEY, policy_digest
from shared.settings import AppSettings

_LOCK = threading.Lock()
_BY_DIGEST: dict[str, PolicyDocument] = {}
_FILES: dict[str, tuple[tuple[int, int], PolicyDocument, str]] = {}


def current(settings: AppSettings) -> tuple[PolicyDocument, str]:
    """``(document, digest)`` of the configured policy file (cached; re-read when the file changes).
    Raises ``PolicyError`` when the file is missing or invalid."""
    path = str(Path(settings.policy_path) if settings.policy_path else policies.DEFAULT_POLICY_PATH)
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise PolicyError(path, f"cannot read: {exc.strerror or exc}") from exc
    key = (stat.st_mtime_ns, stat.st_size)
    with _LOCK:
        cached = _FILES.get(path)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    document = policies.load_policy(path)
    digest = policy_digest(document)
    with _LOCK:
        _FILES[path] = (key, document, digest)
        _BY_DIGEST[digest] = document
    return document, digest


def resolve(settings: AppSettings, ref: dict[str, Any]) -> PolicyDocument:
    """The document a reference ``{"version", "digest"}`` names (module docstring). Raises ``PolicyError``
    when neither the process cache nor the policy file has it."""
    digest = str(ref.get("digest") or "")
    version = str(ref.get("version") or "?")
    with _LOCK:
        cached = _BY_DIGEST.get(digest)
    if cached is not None:
        return cached
    document, file_digest = current(settings)
    if file_digest == digest:
        return document
    raise PolicyError(
        f"{version} ({digest})",
        f"not loaded in this process and the policy file is now {document.version} ({file_digest}): "
        "the policy changed while the case was being judged",
    )


def policy_for(ref: Any, document: dict[str, Any] | None, settings: AppSettings) -> PolicyDocument:
    """The policy a judgment step's input names: ``ref`` (a ``PolicyRef`` or ``{"version", "digest"}``,
    resolved), else the whole ``document`` (inputs scheduled before references existed). Raises
    ``PolicyError``, also when the input has neither."""
    if ref is not None:
        return resolve(settings, ref if isinstance(ref, dict) else ref.model_dump())
    if document is None:
        raise PolicyError("input", f"the step input has neither {REF_KEY!r} nor {DOCUMENT_KEY!r}")
    return policy_from_data(document, source="activity input")
