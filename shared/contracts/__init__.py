"""Typed contracts of the case workflow: the inbound event (``event.py``) and the case models (``case.py``).

Import from ``shared.contracts``; each model lives in its own module, and this package re-exports every
name of ``case.__all__``, ``BusinessEvent`` included (a new case model is exported by listing it there).
The activities' input and output models are imported from their own modules, ``shared.contracts.steps``
(judging steps) and ``shared.contracts.effects`` (effects, verification, maintenance): they build on
``shared.judgment_budget``, which imports the policy schema, which imports ``case``; re-exporting them here
would make that an import cycle.
"""

from shared.contracts import case as _case
from shared.contracts.case import *  # noqa: F403  (the names of case.__all__)
from shared.contracts.event import CASE_WORKFLOW, case_instance_id

__all__ = ["CASE_WORKFLOW", "case_instance_id", *_case.__all__]
