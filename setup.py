"""Stops an install on a Python older than the project needs, with a sentence instead of a resolver error.

pip resolves a source tree's dependencies before it compares ``requires-python`` with the interpreter, so
on Python 3.11 it reported that no version of Mesa matched. The build runs this file first; everything
else is in pyproject.toml.
"""

import sys

REQUIRED = (3, 12)

if sys.version_info < REQUIRED:
    sys.exit(
        f"returnsim needs Python {REQUIRED[0]}.{REQUIRED[1]} or newer, and this is Python "
        f"{sys.version.split()[0]} ({sys.executable}). Install Python {REQUIRED[0]}.{REQUIRED[1]} "
        "(see README.md, 'Quick start'), make a virtual environment with it, and install from there."
    )

from setuptools import setup  # noqa: E402

setup()
