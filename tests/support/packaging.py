"""PanelPay as a user installs it: the wheel ``python -m build`` makes from the checkout, installed into a fresh
virtualenv, and what the build and the install printed."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: pip's note that this machine lists a package location that does not exist: about the machine, not PanelPay.
_MACHINE_NOTE = re.compile(r"WARNING: Location '.*' is ignored: it is neither a file nor a directory\.")


def build_env() -> dict[str, str]:
    """The environment for a build. PYTHONDONTWRITEBYTECODE (set on some machines) makes setuptools say it skips
    byte-compiling: a note about the machine's setting, which a user's build does not print."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def packaging_warnings(output: str) -> list[str]:
    """The lines of a build's or an install's output that warn (setuptools' deprecations, "absent from the
    packages configuration", pip's warnings), but for pip's notes about this machine."""
    return [line for line in output.splitlines()
            if re.search(r"warn|deprecat|!!", line, re.IGNORECASE) and not _MACHINE_NOTE.search(line)]


def run(command: list[str], **options) -> str:
    """Run ``command``; its output (stdout and stderr), or an AssertionError that shows it."""
    result = subprocess.run(command, capture_output=True, text=True, **options)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


@dataclass(frozen=True)
class Installed:
    """A fresh virtualenv holding PanelPay's wheel with the postgres and mysql extras."""

    python: Path
    wheel: Path
    build_output: str
    install_output: str

    def script(self, name: str) -> Path:
        """A console script of the virtualenv (``panelpay``, ``flask``)."""
        return self.python.parent / name


def build_and_install(dist: Path, where: Path) -> Installed:
    """Build the sdist and the wheel from the checkout as the README says, then install the wheel in a new
    virtualenv at ``where``."""
    build_output = run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], env=build_env())
    wheel = next(dist.glob("panelpay-*.whl"))
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    install_output = run([str(python), "-m", "pip", "install", f"{wheel}[postgres,mysql]"])
    return Installed(python, wheel, build_output, install_output)
