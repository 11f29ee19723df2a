"""devhost's HTTP layer: the ASGI app (``server``), the ``/admin`` API (``admin``), HTTP triggers
(``trigger``: ASGI request → ``func.HttpRequest`` → invocation → response) and route templates
(``routing``). It sees the host only through the narrow views ``admin.AdminView`` / ``server.ServedHost``.
"""
