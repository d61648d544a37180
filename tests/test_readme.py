"""The README is a tested document: its code runs as written on the bundled data.

Every fenced block of README.md (and of docs/*.md, if any) is read:

- ```python blocks, joined in order, run as one script in a temporary copy of the repo;
  they may not use files that a bash block writes;
- ```bash blocks run one after another (each with ``bash -e``) in another temporary copy, with
  the venv's bin folder (the folder of this Python) first on PATH, as a reader who ran
  ``. .venv/bin/activate`` would;
- ```python no-test and ```bash no-test blocks (the app, installs, GPU runs, full corpus
  builds) only parse (``ast.parse``, ``bash -n``), and every ``scalelaw ...`` command and
  ``python examples/...`` script they name must answer ``--help``;
- a block with no language may not hold commands (it would escape the test).

The copies import the package from themselves (PYTHONPATH), so the test checks this checkout.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)
# what a copy leaves behind: version control, environments, build outputs, what the README makes
_IGNORE = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "*.egg-info", ".pytest_cache",
                                 "shards", "runs", "examples_out", "build", "dist", "node_modules")


def documents() -> list[Path]:
    docs = [REPO / "README.md"]
    if (REPO / "docs").is_dir():
        docs += sorted((REPO / "docs").rglob("*.md"))
    return docs


def blocks(text: str) -> list[tuple[str, bool, str, int]]:
    """(language, runs, code, first line) for every fenced block of a markdown text."""
    out = []
    for m in FENCE.finditer(text):
        words = m.group(1).split()
        lang = words[0] if words else ""
        out.append((lang, "no-test" not in words[1:], m.group(2), text.count("\n", 0, m.start()) + 2))
    return out


def all_blocks():
    for doc in documents():
        for lang, runs, code, line in blocks(doc.read_text(encoding="utf-8")):
            yield doc.relative_to(REPO).as_posix(), lang, runs, code, line


def _env(root: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(root)
    env.pop("SCALELAW_SHARDS", None)  # the README speaks of ./shards
    return env


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO, root, ignore=_IGNORE)
    return root


def _show(proc) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"


# ---- what a block names ------------------------------------------------------------------
def _simple_commands(code: str) -> list[list[str]]:
    """The simple commands of a bash block, as word lists (comments and line continuations gone)."""
    code = code.replace("\\\n", " ")
    out = []
    for line in code.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:
            continue
        cmd = []
        for w in words + [";"]:
            if w in (";", "&&", "||", "|", "&"):
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(w)
    return out


def named_commands(code: str) -> list[list[str]]:
    """``--help`` checks for the commands a block names: ``scalelaw SUB`` (``data ACTION``)
    and ``python examples/x.py``; environment assignments (``PYTHONPATH=.``) are skipped."""
    checks = []
    for words in _simple_commands(code):
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words = words[1:]
        if not words:
            continue
        prog = os.path.basename(words[0])
        if prog.startswith("python") and words[1:3] == ["-m", "scalelaw"]:
            words = ["scalelaw"] + words[3:]
            prog = "scalelaw"
        if prog == "scalelaw":
            subs = [w for w in words[1:3] if not w.startswith("-")]
            if not subs:
                continue
            chain = subs[:2] if subs[0] == "data" and len(subs) > 1 else subs[:1]
            checks.append(["scalelaw", *chain, "--help"])
        elif prog.startswith("python") and len(words) > 1 and words[1].endswith(".py"):
            checks.append([words[1], "--help"])
    return checks


# ---- fast checks: every block parses, no-test commands answer --help ---------------------
def test_the_readme_has_blocks_of_every_kind():
    kinds = {(lang, runs) for _, lang, runs, _, _ in all_blocks()}
    assert {("python", True), ("bash", True), ("bash", False)} <= kinds


def test_every_block_parses():
    bad = []
    for doc, lang, _, code, line in all_blocks():
        where = f"{doc}:{line}"
        if lang == "python":
            try:
                ast.parse(code, where)
            except SyntaxError as err:
                bad.append(f"{where}: {err}")
        elif lang == "bash":
            proc = subprocess.run(["bash", "-n"], input=code, capture_output=True, text=True)
            if proc.returncode:
                bad.append(f"{where}: {proc.stderr.strip()}")
        elif lang == "":
            if any(w[0] in ("scalelaw", "python", "python3") for w in _simple_commands(code) if w):
                bad.append(f"{where}: a block with commands needs a language (bash, or bash no-test)")
        else:
            bad.append(f"{where}: unknown block language {lang!r} (python or bash, optionally no-test)")
    assert not bad, "\n".join(bad)


def test_named_commands_are_found():
    code = ("python3 -m venv .venv && .venv/bin/scalelaw app  # the app\n"
            "PYTHONPATH=. python3 -m scalelaw sweep spec.yaml \\\n  --out runs\n"
            "scalelaw data build | tail -1; python examples/chinchilla_sizes.py --out x\n")
    assert named_commands(code) == [["scalelaw", "app", "--help"], ["scalelaw", "sweep", "--help"],
                                    ["scalelaw", "data", "build", "--help"],
                                    ["examples/chinchilla_sizes.py", "--help"]]


def test_no_test_blocks_name_real_commands():
    checks = []
    for doc, lang, runs, code, line in all_blocks():
        if lang == "bash" and not runs:
            checks += [(f"{doc}:{line}", c) for c in named_commands(code)]
    assert checks, "no command found in the no-test blocks"
    env = _env(REPO)
    failed = []
    for where, cmd in dict.fromkeys((w, tuple(c)) for w, c in checks):
        argv = [str(BIN / "scalelaw")] + list(cmd[1:]) if cmd[0] == "scalelaw" else [sys.executable, *cmd]
        if cmd[0] == "scalelaw" and not Path(argv[0]).exists():
            argv = [sys.executable, "-m", "scalelaw", *cmd[1:]]
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0 or "usage" not in proc.stdout.lower():
            failed.append(f"{where}: {' '.join(cmd)}\n{_show(proc)}")
    assert not failed, "\n\n".join(failed)


# ---- the blocks run ----------------------------------------------------------------------
@pytest.mark.slow
def test_python_blocks_run_as_one_script(tmp_path):
    parts = [f"# --- {doc}:{line}\n{code}" for doc, lang, runs, code, line in all_blocks()
             if lang == "python" and runs]
    root = _copy(tmp_path)
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n".join(parts), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=root, env=_env(root), capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, _show(proc)


@pytest.mark.slow
def test_bash_blocks_run_in_order(tmp_path):
    root = _copy(tmp_path)
    env = _env(root)
    for doc, lang, runs, code, line in all_blocks():
        if lang != "bash" or not runs:
            continue
        proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=root, env=env,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{doc}:{line}\n{code}\n{_show(proc)}"
