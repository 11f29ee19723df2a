"""``python -m devhost principal NAME [--role R]...``: print the sign-in headers App Service Authentication
would add for a signed-in user, ready for ``curl -H @file``.

In Azure, App Service Authentication ("Easy Auth") strips client-sent ``X-MS-CLIENT-PRINCIPAL*`` headers
and injects its own for the signed-in caller
(https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities):

- ``X-MS-CLIENT-PRINCIPAL``: base64 of the JSON ``{"auth_typ", "name_typ", "role_typ", "claims": [{"typ",
  "val"}]}`` (one name claim, one role claim per role);
- ``X-MS-CLIENT-PRINCIPAL-NAME``: the user's name;
- ``X-MS-CLIENT-PRINCIPAL-IDP``: the identity provider (``aad``).

devhost has no sign-in in front of the app, so a local caller sends these headers itself. The output is
one ``Name: value`` line per header (``--format curl`` prints ``-H 'Name: value'`` arguments instead;
``--format json`` a JSON object). Only for local use: the headers carry no signature and Azure would drop
them.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any, TextIO

ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_TYP = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


def principal_headers(name: str, roles: list[str] | tuple[str, ...], idp: str = "aad") -> dict[str, str]:
    """The three headers for ``name`` with ``roles`` (see the module docstring). Raises ValueError for an
    empty name."""
    if not name.strip():
        raise ValueError("the principal needs a name")
    document = {
        "auth_typ": idp,
        "name_typ": NAME_TYP,
        "role_typ": ROLE_TYP,
        "claims": [{"typ": NAME_TYP, "val": name}] + [{"typ": ROLE_TYP, "val": r} for r in roles],
    }
    return {
        "X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(document).encode()).decode(),
        "X-MS-CLIENT-PRINCIPAL-NAME": name,
        "X-MS-CLIENT-PRINCIPAL-IDP": idp,
    }


def render(headers: dict[str, str], fmt: str) -> str:
    """``headers`` as ``lines`` (``Name: value`` per line, for ``curl -H @file``), ``curl`` (``-H '…'``
    arguments on one line) or ``json``."""
    if fmt == "json":
        return json.dumps(headers, indent=2)
    if fmt == "curl":
        return " ".join(f"-H '{k}: {v}'" for k, v in headers.items())
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


def register(subparsers: Any) -> None:
    """Add the ``principal`` subcommand to devhost's argparse subparsers."""
    p = subparsers.add_parser(
        "principal", help="print App Service Authentication headers for a local caller",
        description="Print the X-MS-CLIENT-PRINCIPAL* headers App Service Authentication would send for a "
                    "signed-in NAME with the given roles. Save them to a file and pass it to curl: "
                    "`python -m devhost principal bob --role approver > bob.headers; "
                    "curl -H @bob.headers ...`.",
    )
    p.add_argument("name", help="the caller's identity name (compared with a case's requester)")
    p.add_argument("--role", action="append", default=[], metavar="ROLE",
                   help="an app role the caller holds (repeatable), e.g. approver")
    p.add_argument("--idp", default="aad", help="identity provider (default: aad)")
    p.add_argument("--format", choices=("lines", "curl", "json"), default="lines",
                   help="lines: 'Name: value' per line for curl -H @file (default); curl: -H arguments; "
                        "json: an object")
    p.set_defaults(handler=cmd_principal)


def cmd_principal(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the headers; exit 1 with one ``error:`` line for an empty name."""
    try:
        headers = principal_headers(args.name, list(args.role), args.idp)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render(headers, args.format), file=out or sys.stdout)
    return 0
