"""Every ```console block of README.md and docs/**/*.md runs as pasted and prints what the docs show.

The convention is in tests/docs/consoleblocks.py and docs/development.md. Blocks run in parallel (one
bash per block, each in its own temporary directory), once per session.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.docs.consoleblocks import (
    Block,
    BlockResult,
    Command,
    DocFormatError,
    Outcome,
    output_matches,
    parse_blocks,
    problems,
    run_block,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BINDIR = Path(sys.executable).parent  # the venv's bin (not resolved: a venv's python is a symlink)
# At most this many blocks may be marked not-run: keep them rare.
MAX_NOT_RUN = 3


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def all_blocks() -> list[Block]:
    return [b for f in doc_files() for b in parse_blocks(f.relative_to(ROOT), (f).read_text("utf-8"))]


BLOCKS = all_blocks()
RUN = [b for b in BLOCKS if b.not_run_reason is None]


@pytest.fixture(scope="module")
def results() -> dict[str, BlockResult]:
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        done = list(pool.map(lambda b: run_block(b, EXAMPLES, BINDIR), RUN))
    return {r.block.where: r for r in done}


@pytest.mark.parametrize("where", [b.where for b in RUN])
def test_console_block(where: str, results: dict[str, BlockResult]) -> None:
    msgs = problems(results[where])
    assert not msgs, "console block drifted from the code:\n" + "\n".join(msgs)


def test_docs_have_console_blocks_and_few_not_run() -> None:
    assert len(RUN) >= 10, "the docs' runnable examples disappeared"
    skipped = [f"{b.where} ({b.not_run_reason})" for b in BLOCKS if b.not_run_reason is not None]
    assert len(skipped) <= MAX_NOT_RUN, f"too many not-run console blocks: {skipped}"


def test_readme_is_small_and_keeps_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.encode()) <= 12 * 1024
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text("utf-8")


# The checker itself: it must be able to fail.

def _block(text: str) -> list[Block]:
    return parse_blocks(Path("t.md"), text)


def test_parse_commands_output_and_continuations() -> None:
    (b,) = _block("intro\n```console\n$ echo a \\\n  b\na b\n$ true\n\n```\n")
    assert [c.text for c in b.commands] == ["echo a \\\n  b", "true"]
    assert b.commands[0].expected == ["a b"] and b.commands[1].expected is None
    assert b.commands[0].line == 3


def test_parse_rejects_bad_blocks() -> None:
    with pytest.raises(DocFormatError, match=r"t.md:1: console block without"):
        _block("```console\nno command\n```\n".replace("no command", ""))
    with pytest.raises(DocFormatError, match="before its first"):
        _block("```console\noutput\n$ true\n```\n")
    with pytest.raises(DocFormatError, match="needs a reason"):
        _block("<!-- console: not-run () -->\n```console\n$ true\n```\n")
    with pytest.raises(DocFormatError, match="malformed marker"):
        _block("<!-- console: skip -->\n```console\n$ true\n```\n")
    with pytest.raises(DocFormatError, match="never closed"):
        _block("```console\n$ true\n")
    (b,) = _block("<!-- console: not-run (never returns) -->\n```console\n$ sleep 1d\n```\n")
    assert b.not_run_reason == "never returns"


def test_wildcards() -> None:
    assert output_matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert output_matches(["a", "...", "z"], ["a", "z  ", ""])
    assert output_matches(["created host ...: 90 free"], ["created host /tmp/x/host.db: 90 free"])
    assert not output_matches(["a", "...", "z"], ["a", "b"])
    assert not output_matches(["created ...: 90 free"], ["created x: 91 free"])
    assert not output_matches(["a.b"], ["axb"])  # only `...` is special
    assert not output_matches(["a"], ["a", "b"])


def test_runner_reports_drift_and_failure(tmp_path: Path) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "x.txt").write_text("hello\n")
    (b,) = _block("```console\n$ cat examples/x.txt\nhello\n$ printf 'n'\nm\n$ false\n"
                  "$ echo \"$EVTCHN_HOST\"\n...host.db\n```\n")
    r = run_block(b, tmp_path / "examples", BINDIR)
    msgs = problems(r)
    assert len(msgs) == 2
    assert "t.md:4: $ printf 'n'" in msgs[0] and "the docs show" in msgs[0]
    assert "t.md:6: $ false" in msgs[1] and "exited 1" in msgs[1]
    assert [o.status for o in r.outcomes] == [0, 0, 1, 0]


def test_problems_ok_when_output_unchecked() -> None:
    c = Command(1, "true", None)
    r = BlockResult(Block(Path("t.md"), 1, [c]), [Outcome(c, ["anything"], 0)])
    assert problems(r) == []
