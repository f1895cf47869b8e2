"""Every ```pycon block of README.md and docs/**/*.md is a doctest that passes.

Like the console blocks (docs/development.md): each block runs on its own, in a fresh temporary directory
holding a copy of examples/, with EVTCHN_HOST pointing at host.db there. `...` in an expected output
matches any text (doctest's ELLIPSIS); runs of whitespace compare equal (NORMALIZE_WHITESPACE).
"""

from __future__ import annotations

import doctest
import shutil
from pathlib import Path

import pytest

from tests.docs.consoleblocks import fenced
from tests.docs.test_console_blocks import EXAMPLES, ROOT, doc_files

BLOCKS = [
    (f"{f.relative_to(ROOT)}:{line}", "\n".join(body) + "\n")
    for f in doc_files()
    for line, body in fenced(f.relative_to(ROOT), f.read_text("utf-8"), "pycon")
]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_docs_have_pycon_blocks() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize(("where", "text"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_pycon_block(where: str, text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVTCHN_HOST", str(tmp_path / "host.db"))
    test = doctest.DocTestParser().get_doctest(text, {}, where, where, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, f"{where}: python example drifted from the code:\n" + "".join(out)
