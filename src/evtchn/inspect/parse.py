"""Compatibility name for the detection step: `evtchn.inspect.detect` (one reader per input kind)."""

from evtchn.inspect.detect import parse_file, parse_files, parse_text

__all__ = ["parse_file", "parse_files", "parse_text"]
