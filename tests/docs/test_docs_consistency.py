"""The docs stand on their own: README shell blocks parse, every link and referenced repo file exists.

- every fenced ``sh``/``bash``/``shell``/``console`` block of a tracked Markdown file parses with ``bash -n``
  (it may still need a running app, but it is valid shell: no ``<placeholder>`` left in it);
- every relative Markdown link ``[text](path)`` of a tracked Markdown file points at an existing file or
  directory (anchors and URLs are not checked);
- every ``docs/<page>.md#<anchor>`` reference anywhere in the repo (code comments cite docs that way) names
  an existing page and one of its headings;
- every backticked repo path in README.md and docs/ (a token starting with a top-level directory of the
  repo, like ``devhost/clock.py`` or ``docs/devhost.md``) exists;
- nothing in the repo points at notes a clone does not have (files outside the repository).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGS = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^```([\w-]*)\s*\n(.*?)^```\s*$", re.M | re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
BACKTICK = re.compile(r"`([^`\s]+)`")
#: Files and directories created by `make` or at run time, so absent from a clean checkout.
GENERATED = (".venv", "node_modules", ".devhost", "local.settings.json", ".venv-tools", "bob.headers")


def tracked(pattern: str) -> list[Path]:
    """Tracked files matching a git pathspec (the test runs in a checkout)."""
    out = subprocess.run(["git", "ls-files", "-z", "--", pattern], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / p for p in out.stdout.decode().split("\0") if p]


def markdown_files() -> list[Path]:
    """Every tracked Markdown file except captured third-party text."""
    return [p for p in tracked("*.md") if "node_modules" not in p.parts]


def shell_blocks(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of each fenced shell block in ``path``."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1).lower() in SHELL_LANGS:
            blocks.append((text.count("\n", 0, match.start()) + 1, match.group(2)))
    return blocks


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_every_shell_block_parses() -> None:
    """``bash -n`` accepts each block; no ``<placeholder>`` is left for the reader to replace."""
    problems = []
    for path in markdown_files():
        for line, block in shell_blocks(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            result = subprocess.run(["bash", "-n"], input=block, capture_output=True, text=True)
            if result.returncode != 0:
                problems.append(f"{where}: {result.stderr.strip()}")
            if re.search(r"<[a-z][a-z ]*>", block):
                problems.append(f"{where}: placeholder {re.search(r'<[a-z][a-z ]*>', block).group(0)}")
            if re.search(r"base64 -w|uuidgen|sed -i |readlink -f", block):
                problems.append(f"{where}: GNU-only or non-portable command")
    assert not problems, "\n".join(problems)


def test_readme_has_shell_blocks() -> None:
    """The check above sees the README's blocks (the fence pattern still matches)."""
    assert len(shell_blocks(ROOT / "README.md")) >= 3


def test_every_relative_link_exists() -> None:
    """Each relative Markdown link resolves (from the linking file's directory)."""
    missing = []
    for path in markdown_files():
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            file_part = target.split("#", 1)[0]
            if file_part and not (path.parent / file_part).exists():
                missing.append(f"{path.relative_to(ROOT)}: {target}")
    assert not missing, "\n".join(missing)


def test_every_backticked_repo_path_exists() -> None:
    """``devhost/clock.py``-like references in README.md and docs/ name files or directories that exist."""
    tops = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")} - set(GENERATED)
    missing = []
    for path in [ROOT / "README.md", *tracked("docs/*.md")]:
        for token in BACKTICK.findall(path.read_text(encoding="utf-8")):
            candidate = token.rstrip(".,:;)").split("::", 1)[0].split(":", 1)[0]
            if candidate.split("/", 1)[0] not in tops or "/" not in candidate:
                continue
            if any(ch in candidate for ch in "{}<>*…"):
                continue  # a pattern, not a path
            module, _, attribute = candidate.rpartition(".")
            if not (ROOT / candidate).exists() and not (attribute and (ROOT / f"{module}.py").exists()):
                missing.append(f"{path.relative_to(ROOT)}: {token}")
    assert not missing, "\n".join(missing)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_doc_anchor_reference_exists() -> None:
    """``docs/host-behaviour.md#timer-trigger``-like references point at a real heading."""
    anchors: dict[str, set[str]] = {}
    for page in tracked("docs/*.md"):
        headings = re.findall(r"^#+\s+(.*)$", page.read_text(encoding="utf-8"), re.M)
        anchors[page.name] = {github_anchor(h) for h in headings}
    missing = []
    for path in tracked("*"):
        if path.suffix not in (".py", ".md") or not path.is_file():
            continue
        for page, anchor in re.findall(r"docs/([\w.-]+\.md)#([\w-]+)", path.read_text(encoding="utf-8")):
            if anchor not in anchors.get(page, set()):
                missing.append(f"{path.relative_to(ROOT)}: docs/{page}#{anchor}")
    assert not missing, "\n".join(missing)


def test_no_reference_to_notes_outside_the_repo() -> None:
    """Code and docs cite docs/ and public sources, never notes that live beside the checkout."""
    result = subprocess.run(
        ["git", "grep", "-nE", r"durable-protocol\.md|functions-host-semantics\.md|\.\./shared/", "--",
         ".", ":!tests/docs/test_docs_consistency.py"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.stdout == "", result.stdout
