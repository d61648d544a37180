"""Every bundled data set's README says how it was made, and what it says still holds.

data/<set>/README.md must name the command (a ``scalelaw`` line in a fenced block), the commit,
the device and the date of its curves. These checks are structural and fast (no fit, no logs
parsed beyond counting files):

- every ``scalelaw ...`` line of a fenced block parses with today's CLI (a renamed or removed
  flag fails here, not in a reader's shell); argparse only: nothing runs;
- every repository path a README names (specs under examples/sweeps, scripts, tests) exists;
- every commit hash a README names is a commit of this repository (``git cat-file -t``), and a
  folder with logs names at least one;
- a folder with logs has a status line whose run count is its number of logs, and its
  ``index.csv`` (if any) lists exactly those runs; a folder without logs says they are not
  committed.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
SETS = sorted(p.name for p in DATA.iterdir() if p.is_dir()) if DATA.is_dir() else []

# Hashes a README names on purpose although they are not in this history, each said so there.
NOT_IN_HISTORY = {
    # data/cpu_dewords: the pilots' hashes on the enc17 branch before its rebase onto main
    "3b71e08", "f61d1c7", "68fa6a6", "c17b089", "125db4f",
    # data/cpu_numsum: the first spec's hash before a rebase (027f887 on main)
    "1313f6e",
}
# A commit hash: 7-40 hex digits standing alone, with a letter and a digit (so neither a number
# nor an English word); all-digit hashes count when written as code (`2565780`).
_HEX = r"[0-9a-f]{7,40}"
HASH = re.compile(rf"(?<![\w/.#-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])({_HEX})(?![\w-])")
CODE_HASH = re.compile(rf"`({_HEX})`")
PATH = re.compile(r"(?<![\w/.-])((?:examples|benchmarks|scalelaw|tests|docs|app)/[\w./-]+\w)")
STATUS = re.compile(r"Status: (?:complete, )?(?:(\d+) of )?(\d+) runs")


def readme(name: str) -> str:
    return (DATA / name / "README.md").read_text(encoding="utf-8")


def logs(name: str) -> list[Path]:
    return sorted((DATA / name).glob("*.jsonl"))


def fenced_commands(text: str) -> list[str]:
    """The ``scalelaw`` lines of the fenced blocks, continuations joined, comments and a
    trailing ``&`` dropped, leading environment variables and ``nice -n K`` removed."""
    out = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#")[0].strip().rstrip("&").strip()
            if "&&" in line:  # `scalelaw data build && scalelaw data bpe --vocab 1024`
                out += [part.strip() for part in line.split("&&")]
                continue
            out.append(line)
    cmds = []
    for line in out:
        if not re.search(r"\bscalelaw\b", line):
            continue  # a layout or output line of the block, not a command
        toks = shlex.split(line)  # an unbalanced quote in a command fails the test, as in a shell
        while toks and (re.match(r"^[A-Z_]+=", toks[0]) or toks[0] == "nice"):
            toks = toks[3:] if toks[0] == "nice" else toks[1:]
        if toks[:3] in (["python", "-m", "scalelaw"], ["python3", "-m", "scalelaw"]):
            toks = ["scalelaw"] + toks[3:]
        if toks[:1] == ["scalelaw"]:
            cmds.append(toks[1:])
    return cmds


def parse_error(argv: list[str]) -> str | None:
    """argparse's complaint about ``scalelaw argv`` (None when it parses)."""
    from scalelaw.cli import _TRAINER_COMMANDS, _build_parser
    from scalelaw.train.cli import build_parser

    parser = build_parser() if argv and argv[0] in _TRAINER_COMMANDS else _build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code:
            return err.getvalue().strip().splitlines()[-1]
    return None


def git_objects(hashes: set[str]) -> dict[str, str]:
    """``git cat-file -t`` of each hash ('' when absent); skips outside a full git checkout."""
    try:
        shallow = subprocess.run(["git", "rev-parse", "--is-shallow-repository"], cwd=REPO,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    if shallow == "true":
        pytest.skip("a shallow clone lacks the older commits")
    return {h: subprocess.run(["git", "cat-file", "-t", h], cwd=REPO, capture_output=True,
                              text=True).stdout.strip() for h in hashes}


def test_every_data_folder_has_a_readme_with_a_title_and_a_command():
    assert SETS, "no data/ folders"
    for name in SETS:
        assert (DATA / name / "README.md").is_file(), f"data/{name} has no README.md"
        text = readme(name)
        assert text.startswith("# "), f"data/{name}/README.md: the first line is not a '# ' title"
        assert fenced_commands(text), f"data/{name}/README.md names no `scalelaw` command in a fenced block"


@pytest.mark.parametrize("name", SETS)
def test_readme_commands_parse_with_todays_cli(name):
    bad = [f"scalelaw {' '.join(argv)}: {msg}" for argv in fenced_commands(readme(name))
           if (msg := parse_error(argv))]
    assert not bad, f"data/{name}/README.md: " + "; ".join(bad)


def test_a_renamed_flag_would_fail_the_parse_check():
    """The check is not vacuous: a flag the CLI does not have is reported."""
    assert parse_error(["sweep", "spec.yaml", "--outdir", "runs/x"]) is not None
    assert parse_error(["sweep", "spec.yaml", "--out", "runs/x", "--shard", "0/2"]) is None
    assert fenced_commands("```\nOMP_NUM_THREADS=1 nice -n 5 scalelaw train --steps 3 &   # x\n```\n") == [
        ["train", "--steps", "3"]]


@pytest.mark.parametrize("name", SETS)
def test_paths_a_readme_names_exist(name):
    text = readme(name)
    missing = sorted({p for p in PATH.findall(text) if not (REPO / p).exists()})
    assert not missing, f"data/{name}/README.md names files that are not in the repository: {missing}"


def test_commits_the_readmes_name_exist_and_every_set_with_logs_names_one():
    named = {name: (set(HASH.findall(readme(name))) | set(CODE_HASH.findall(readme(name))))
             for name in SETS}
    kinds = git_objects(set().union(*named.values()) - NOT_IN_HISTORY)
    for name, hashes in named.items():
        absent = sorted(h for h in hashes - NOT_IN_HISTORY if kinds[h] != "commit")
        assert not absent, f"data/{name}/README.md names commits not in git log: {absent}"
        if logs(name):
            assert hashes - NOT_IN_HISTORY, f"data/{name}/README.md names no commit"


@pytest.mark.parametrize("name", SETS)
def test_status_counts_match_the_logs_and_the_index(name):
    text, runs = readme(name), logs(name)
    if not runs:
        assert re.search(r"(no logs|logs are not|are never) committed", text), (
            f"data/{name} has no logs: its README must say they are not committed")
        return
    status = STATUS.search(text[:3000])
    assert status, f"data/{name}/README.md has no 'Status: complete, N runs' line"
    done, total = status.group(1), int(status.group(2))
    assert total == len(runs), f"data/{name}: the README says {total} runs, the folder has {len(runs)} logs"
    assert done is None or int(done) == total, f"data/{name}: status says {done} of {total}"
    index = DATA / name / "index.csv"
    if index.exists():
        listed = pd.read_csv(index)
        assert sorted(listed["run"]) == sorted(p.stem for p in runs), f"data/{name}: index.csv != logs"
        assert (listed["status"] == "complete").all(), f"data/{name}: index.csv has unfinished runs"
