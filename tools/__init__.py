"""Operator tools that run beside the app, never deployed (``.funcignore``): the replay gate
(``python -m tools.replay_gate``) and the SLO report (``python -m tools.report``)."""
