"""The one thing pyproject.toml cannot say with setuptools >= 68: the C extension (issue 11).

evtchn.inspect._cscan is the compiled line scanner (src/evtchn/inspect/_cscan.c, CPython C API only);
evtchn.inspect.cscan falls back to the numpy scanners when it cannot be imported.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "evtchn.inspect._cscan",
            sources=["src/evtchn/inspect/_cscan.c"],
            extra_compile_args=["-O2"],
            # no C compiler (or not gcc/clang): install anyway, and the numpy scanners do the work
            optional=True,
        )
    ]
)
