"""``python -m devhost``: see :mod:`devhost.cli`.

devhost needs the packages pinned in requirements-dev.txt (uvicorn, azure-functions, ...). Run with another
interpreter (a bare ``python -m devhost`` outside the virtual environment), the import fails: say how to
get the right one instead of a traceback.
"""

import sys


def _main() -> int:
    try:
        from devhost.cli import main
    except ImportError as exc:
        print(
            f"error: devhost cannot import its dependencies ({exc}).\n"
            "Run `make venv` once, then use .venv/bin/python -m devhost ... "
            f"(this is {sys.executable}).",
            file=sys.stderr,
        )
        return 1
    return main()


if __name__ == "__main__":
    sys.exit(_main())
