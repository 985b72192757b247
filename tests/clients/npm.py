"""The npm tools of the client tests, installed once under ``.state/npm``.

``tests/clients/package.json`` pins them (and ``package-lock.json`` everything they
pull in). They are installed with Debian's ``node``/``npm`` (``make client-deps``
installs those when missing) into the gitignored ``.state/npm``, and installed
again only when the pins change, so a repeated test run does not touch the registry.

``python -m tests.clients.npm`` installs them; the tests call :func:`ensure_installed`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_DIR = HERE.parent.parent
NPM_DIR = Path(os.environ.get("DEV_STATE_DIR", PROJECT_DIR / ".state")).resolve() / "npm"
MANIFESTS = ("package.json", "package-lock.json")
STAMP = NPM_DIR / ".installed"
BIN = NPM_DIR / "node_modules" / ".bin"


class NpmUnavailable(RuntimeError):
    pass


def _pins() -> str:
    digest = hashlib.sha256()
    for name in MANIFESTS:
        if (HERE / name).exists():
            digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def tool_env() -> dict[str, str]:
    """The environment for node tools: no telemetry, no update checks, nothing leaves the machine."""
    env = dict(os.environ)
    env.update(
        REDOCLY_TELEMETRY="off",
        REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
        NO_UPDATE_NOTIFIER="1",
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
    )
    return env


def ensure_installed() -> Path:
    """Install the pinned tools when missing or out of date; return their ``.bin`` folder."""
    if not shutil.which("node") or not shutil.which("npm"):
        raise NpmUnavailable("node and npm are missing: run `make client-deps` (Debian's nodejs and npm packages).")
    pins = _pins()
    if STAMP.exists() and STAMP.read_text() == pins and BIN.is_dir():
        return BIN
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    for name in MANIFESTS:
        if (HERE / name).exists():
            shutil.copyfile(HERE / name, NPM_DIR / name)
    command = ["npm", "ci"] if (HERE / "package-lock.json").exists() else ["npm", "install"]
    result = subprocess.run(
        [*command, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NPM_DIR,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise NpmUnavailable(f"{' '.join(command)} failed in {NPM_DIR}:\n{result.stdout}\n{result.stderr}")
    STAMP.write_text(pins)
    return BIN


if __name__ == "__main__":
    try:
        print(f"npm tools in {ensure_installed()}")
    except NpmUnavailable as error:
        sys.exit(str(error))
