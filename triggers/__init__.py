"""Function blueprints of the case workflow app: thin triggers that parse, call plain code and respond.

``events.py`` (POST /api/events) and ``queue.py`` (the case-events queue) start cases; ``cases.py``
(approvals API) and ``timer.py`` (maintenance) serve running ones. ``function_app.py`` registers them.
"""
