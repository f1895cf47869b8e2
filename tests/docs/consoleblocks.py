"""Run the ```console blocks of the Markdown docs and compare what they print with what the docs show.

The convention (also stated in docs/development.md, which is what authors read):

- In a ```console block, a line starting `$ ` is a command. A command may continue on the next lines
  when a line ends with a backslash. The lines after a command, up to the next `$ ` line, are its
  expected output (stdout and stderr together, as a terminal shows them). A command with no lines
  after it has its output unchecked.
- A line that is exactly `...` matches any number of output lines (zero or more). `...` inside a line
  matches any text within that one line (a uuid, a temporary path). Trailing spaces and trailing blank
  lines are ignored.
- Every command must exit 0. To show a failure, show its status: `$ evtchn can-start big.yaml; echo $?`.
- A block runs in one bash process, in a fresh temporary directory holding a copy of `examples/`, with
  the interpreter's bin directory first on PATH, `EVTCHN_HOST` pointing at `host.db` in that directory,
  `COLUMNS=130`, `NO_COLOR=1` and `PYTHONUNBUFFERED=1` (stdout and stderr interleave as on a terminal).
- A block whose opening fence is directly preceded by `<!-- console: not-run (REASON) -->` is not run;
  the reason is required (a command that never returns, such as `evtchn serve`).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")
NOT_RUN = re.compile(r"^\s*<!--\s*console:\s*not-run\s*\((?P<reason>[^)]*)\)\s*-->\s*$")
MARKER_LIKE = re.compile(r"^\s*<!--\s*console:")
COLUMNS = "130"
BLOCK_TIMEOUT_S = 180.0


class DocFormatError(ValueError):
    """A console block that breaks the convention (no command, a marker without a reason, ...)."""


@dataclass
class Command:
    line: int  # 1-based line of the `$ ` line in the Markdown file
    text: str  # the shell text, continuations joined with newlines
    expected: list[str] | None  # None: output not shown, so not checked


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    commands: list[Command]
    not_run_reason: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Outcome:
    command: Command
    output: list[str]
    status: int


@dataclass
class BlockResult:
    block: Block
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None  # the shell itself failed or timed out


def fenced(path: Path, text: str, language: str) -> list[tuple[int, list[str]]]:
    """(line of the opening fence, body lines) of every block fenced as ```LANGUAGE in one Markdown file."""
    lines = text.splitlines()
    out: list[tuple[int, list[str]]] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = _fence_end(path, lines, i, m["fence"])
        if m["info"].strip().split(" ")[0] == language:
            indent = m["indent"]
            out.append((i + 1, [ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                                for ln in lines[i + 1:end]]))
        i = end + 1
    return out


def _fence_end(path: Path, lines: list[str], start: int, fence: str) -> int:
    end = start + 1
    while end < len(lines):
        closing = lines[end].strip()
        if closing.startswith(fence) and closing.strip("`") == "":
            break
        end += 1
    if end == len(lines):
        raise DocFormatError(f"{path}:{start + 1}: code fence is never closed")
    return end


def parse_blocks(path: Path, text: str | None = None) -> list[Block]:
    """Every ```console block of one Markdown file, with its commands and their expected output."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if MARKER_LIKE.search(lines[i]) and not NOT_RUN.match(lines[i]):
                raise DocFormatError(f"{path}:{i + 1}: malformed marker, expected "
                                     "'<!-- console: not-run (REASON) -->'")
            i += 1
            continue
        indent, fence, info = m["indent"], m["fence"], m["info"].strip()
        end = _fence_end(path, lines, i, fence)
        if info.split(" ")[0] == "console":
            body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip() for ln in lines[i + 1:end]]
            reason = None
            if i > 0 and (nr := NOT_RUN.match(lines[i - 1])):
                reason = nr["reason"].strip()
                if not reason:
                    raise DocFormatError(f"{path}:{i}: a not-run marker needs a reason")
            blocks.append(Block(path, i + 1, _commands(path, i + 2, body), reason))
        i = end + 1
    return blocks


def _commands(path: Path, first_line: int, body: list[str]) -> list[Command]:
    commands: list[Command] = []
    j = 0
    while j < len(body):
        ln = body[j]
        if not ln.startswith("$ "):
            if not commands:
                if ln.strip():
                    raise DocFormatError(f"{path}:{first_line + j}: console block text before its first "
                                         "'$ ' command")
                j += 1
                continue
            expected = commands[-1].expected
            assert expected is not None
            expected.append(ln)
            j += 1
            continue
        start = j
        parts = [ln[2:]]
        while parts[-1].endswith("\\") and j + 1 < len(body):
            j += 1
            parts.append(body[j])
        commands.append(Command(first_line + start, "\n".join(parts), []))
        j += 1
    if not commands:
        raise DocFormatError(f"{path}:{first_line - 1}: console block without a '$ ' command")
    for c in commands:
        assert c.expected is not None
        while c.expected and not c.expected[-1].strip():
            c.expected.pop()
        if not c.expected:
            c.expected = None
    return commands


def output_matches(expected: list[str], actual: list[str]) -> bool:
    """`...` alone matches any lines, `...` inside a line any text in that line; trailing spaces ignored."""
    pattern = []
    for ln in expected:
        ln = ln.rstrip()
        if ln == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(r"[^\n]*?".join(re.escape(p) for p in ln.split("...")) + r"\n")
    text = "".join(a.rstrip() + "\n" for a in _trim(actual))
    return re.fullmatch("".join(pattern), text) is not None


def _trim(lines: list[str]) -> list[str]:
    out = list(lines)
    while out and not out[-1].strip():
        out.pop()
    return out


def block_env(workdir: Path, bindir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVTCHN_")}
    env.update(
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        EVTCHN_HOST=str(workdir / "host.db"),
        COLUMNS=COLUMNS,
        NO_COLOR="1",
        TERM="dumb",
        LC_ALL="C.UTF-8",
        PYTHONIOENCODING="utf-8",
        PYTHONUNBUFFERED="1",  # stdout and stderr interleave as on a terminal
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def run_block(block: Block, examples: Path, bindir: Path) -> BlockResult:
    """Run one block's commands in one bash, in a fresh directory with a copy of `examples/`."""
    sentinel = f"@@console-block-{secrets.token_hex(8)}@@"
    script = ["exec 2>&1"]
    for c in block.commands:
        script.append(c.text)
        script.append(f"printf '\\n{sentinel} %d\\n' \"$?\"")
    result = BlockResult(block)
    with tempfile.TemporaryDirectory(prefix="evtchn-doc-") as tmp:
        work = Path(tmp) / "checkout"
        work.mkdir()
        shutil.copytree(examples, work / "examples")
        script_file = Path(tmp) / "block.sh"
        script_file.write_text("\n".join(script) + "\n", encoding="utf-8")
        proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc", str(script_file)],
            cwd=work, env=block_env(work, bindir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            start_new_session=True,  # its own process group, so that _stop_group reaches only its own
        )
        try:
            raw, _ = proc.communicate(timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _stop_group(proc.pid, signal.SIGKILL)
            proc.communicate()
            result.error = f"{block.where}: block did not finish in {BLOCK_TIMEOUT_S:.0f} s"
            return result
        finally:
            _stop_group(proc.pid)
    out = raw.decode("utf-8", errors="replace")
    pieces = re.split(rf"\n{re.escape(sentinel)} (\d+)\n", out)
    # pieces = [out0, rc0, out1, rc1, ..., tail]
    for k, c in enumerate(block.commands):
        if 2 * k + 1 >= len(pieces):
            result.error = f"{block.where}: the shell stopped before the command at line {c.line}"
            break
        result.outcomes.append(Outcome(c, pieces[2 * k].splitlines(), int(pieces[2 * k + 1])))
    return result


def _stop_group(pgid: int, sig: int = signal.SIGTERM) -> None:
    """Stop what a block left running in the background (`evtchn serve &` before a step that failed).

    The block's bash leads its own process group, so this reaches only processes the block started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def problems(result: BlockResult) -> list[str]:
    """One message per command whose status or output differs from the docs (empty: the block holds)."""
    msgs = [] if result.error is None else [result.error]
    for o in result.outcomes:
        where = f"{result.block.path}:{o.command.line}: $ {o.command.text}"
        shown = "\n".join("    " + ln for ln in o.output) or "    (no output)"
        if o.status != 0:
            msgs.append(f"{where}\n  exited {o.status}; output:\n{shown}")
        elif o.command.expected is not None and not output_matches(o.command.expected, o.output):
            want = "\n".join("    " + ln for ln in o.command.expected)
            msgs.append(f"{where}\n  the docs show:\n{want}\n  it printed:\n{shown}")
    return msgs
