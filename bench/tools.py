"""Command-line tools the benchmarks install on first use."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable


def ensure_command(name: str, log: Callable[[str], None] = print) -> str:
    """The path of ``name``, installed from the Debian package of the same name if missing."""
    found = shutil.which(name)
    if found:
        return found
    log(f"{name} not found: installing it from the Debian packages")
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", name]
    if subprocess.run(install, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], stdout=subprocess.DEVNULL, check=True)
        subprocess.run(install, stdout=subprocess.DEVNULL, check=True)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} could not be installed")
    return found
