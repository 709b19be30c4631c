"""Build hook only; the package metadata lives in setup.cfg.

``build_py`` also writes ``wfm/_build_info.py`` (``GIT_COMMIT = "..."``) into the build
directory, never into the source tree, so an installed wfm records the commit it was
built from in every run file (``wfm.store.git_commit``).
"""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _git(*args):
    out = subprocess.run(
        ["git", "-C", str(HERE), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return out.stdout.strip()


def git_commit():
    """``git rev-parse HEAD`` of the source dir (``-dirty`` if modified), else unknown."""
    try:
        commit = _git("rev-parse", "HEAD")
        if not commit:
            return "unknown"
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class build_py_with_commit(build_py):
    """``build_py`` that also writes ``wfm/_build_info.py`` into ``build_lib``."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "wfm" / "_build_info.py"
        if not self.dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                '"""Written by setup.py at build time; not in the source tree."""\n\n'
                f"GIT_COMMIT = {git_commit()!r}\n"
            )

    def get_outputs(self, include_bytecode=True):
        target = str(Path(self.build_lib) / "wfm" / "_build_info.py")
        return [*super().get_outputs(include_bytecode), target]


setup(cmdclass={"build_py": build_py_with_commit})
