"""A tiny client script: calls the app once (used by `devhost start --demo` with DEVHOST_DEMO)."""

import urllib.request


def run(base_url: str) -> None:
    with urllib.request.urlopen(f"{base_url}/api/hello/demo") as response:
        print(f"DEMO got: {response.read().decode()}", flush=True)
