"""One reader per input kind an administrator has in hand (reference §9).

- `lsevtchn`: lsevtchn output (per line and vectorised), prompts naming the domid, the tool's errors.
- `edump` / `edump_scan`: the 'e' debug key's dump, every layout (per line / vectorised).
- `interrupts`: a Linux /proc/interrupts.

Each exposes `line(sink, lineno, text) -> Verdict`; `evtchn.inspect.detect` offers lines to them in turn.
"""
