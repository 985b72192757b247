"""A TypeScript client, typed by openapi-typescript from the live schema, type-checks and runs.

``tests/clients/typescript/workflow.ts`` is what an integrator would write with
``openapi-fetch``: create a part without a category, filter by price, place an
order with an integer ``request_id``, pass the order's ``id`` back in a path,
replay it, and read the typed 409 / 404 / invalid-transition bodies. The test
generates ``schema.d.ts`` from ``/api/schema/`` of the session's gunicorn,
type-checks the program (``tsc --noEmit``, strict), compiles it and runs it with
node against the same server. A second file holds a mistake the types must catch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import make_user, token_for
from tests.clients import npm

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PROGRAM = Path(__file__).resolve().parent / "typescript"
RUN = 7301
# The order's id typed as a string, as the schema had it: TypeScript must refuse it.
MISTAKE = """import createClient from "openapi-fetch";
import type { paths } from "./schema.js";
const client = createClient<paths>({ baseUrl: "http://127.0.0.1" });
await client.GET("/api/v1/orders/{id}", { params: { path: { id: "12" } } });
"""


def run(command: list[str], cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=npm.tool_env(), timeout=timeout)


@pytest.fixture(scope="module")
def program(live_server_url, npm_bin, tmp_path_factory) -> Path:
    """The program beside its types generated from the live schema, with the pinned npm tools."""
    work = tmp_path_factory.mktemp("typescript") / "client"
    shutil.copytree(PROGRAM, work)
    (work / "package.json").write_text('{"type": "module", "private": true}\n')
    os.symlink(npm.NPM_DIR / "node_modules", work / "node_modules")
    generated = run(
        [
            str(npm_bin / "openapi-typescript"),
            f"{live_server_url}/api/schema/?format=json",
            # A property with a default is optional in a request body (openapi-typescript would require it).
            "--default-non-nullable=false",
            "-o",
            "schema.d.ts",
        ],
        work,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    return work


def test_a_typescript_client_type_checks_and_runs_against_the_server(program, npm_bin, live_server_url):
    token = token_for(make_user("ts-integrator", is_staff=True, is_superuser=True))
    (program / "config.ts").write_text(
        f"export const BASE_URL = {json.dumps(live_server_url)};\n"
        f"export const TOKEN = {json.dumps(token)};\n"
        f"export const RUN = {RUN};\n"
    )
    checked = run([str(npm_bin / "tsc"), "--noEmit", "-p", "tsconfig.json"], program)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    compiled = run([str(npm_bin / "tsc"), "-p", "tsconfig.json", "--noCheck"], program)  # checked just above
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr

    ran = run(["node", "dist/workflow.js"], program)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result | {"order": None} == {
        "order": None,
        "available": 3,  # 5 in stock, 2 on the order
        "missing": [987654321],
        "allowed": ["in_progress", "cancelled"],
        "stock": 5,  # the cancel returned the 2
    }
    assert isinstance(result["order"], int)


def test_the_generated_types_refuse_a_string_order_id(program, npm_bin):
    (program / "mistake.ts").write_text(MISTAKE)
    (program / "tsconfig.mistake.json").write_text(json.dumps({"extends": "./tsconfig.json", "files": ["mistake.ts"]}))
    checked = run([str(npm_bin / "tsc"), "--noEmit", "-p", "tsconfig.mistake.json"], program)
    assert checked.returncode != 0
    assert "mistake.ts(4," in checked.stdout and "error TS2322" in checked.stdout, checked.stdout
