"""docs/api.md's month of an ISP, command by command: every curl in it runs here.

The curl commands are read from the document and replayed through the test client, with
the shell variables they set (``NAME=$(curl ... | jq -r .field)``), so the document cannot
drift from what the API does."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client

from ispbill.accounts.models import Role
from ispbill.accounts.services import api_token_create
from ispbill.catalog.models import TaxRate
from tests.api.conftest import make_user

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _walkthrough_commands() -> list[str]:
    text = DOC.read_text()
    section = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->")[0]
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line and not line.startswith("#") and "curl" in line:
                commands.append(line)
    return commands


def _jq(value: Any, path: str) -> Any:
    for part in re.findall(r"[A-Za-z_][A-Za-z_0-9]*|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def _run(client: Client, command: str, env: dict[str, str]) -> tuple[int, Any]:
    target = None
    jq_path = None
    match = re.fullmatch(r"([A-Z_]+)=\$\((.*)\)", command)
    if match:
        target, command = match.group(1), match.group(2)
    if "| jq" in command:
        command, jq_part = command.split("| jq", 1)
        jq_path = shlex.split(jq_part)[-1]
    args = shlex.split(command)
    assert args[0] == "curl", command

    def expand(text: str) -> str:
        return re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: env[m.group(1)], text)

    args = [expand(a) for a in args[1:]]
    method, headers, data, url = "GET", {}, None, None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-X", "--request"):
            method = args[i + 1]
            i += 2
        elif arg in ("-H", "--header"):
            name, _, value = args[i + 1].partition(":")
            headers[name.strip()] = value.strip()
            i += 2
        elif arg in ("-d", "--data", "--data-raw"):
            data = args[i + 1]
            method = "POST" if method == "GET" else method
            i += 2
        elif arg in ("-o", "--output"):
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            url = arg
            i += 1
    assert url is not None and url.startswith("http://localhost:8000/api/v1/"), command
    path = url.removeprefix("http://localhost:8000")
    meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    meta.pop("HTTP_CONTENT_TYPE", None)
    if method == "GET":
        response = client.get(path, **meta)
    else:
        response = getattr(client, method.lower())(
            path, data or "", content_type="application/json", **meta
        )
    assert response.status_code < 400, (command, response.status_code, response.content[:500])
    body: Any = response.content
    if response.get("Content-Type", "").startswith("application/json"):
        body = json.loads(response.content)
    if target is not None:
        assert jq_path is not None
        env[target] = str(_jq(body, jq_path))
    return response.status_code, body


@pytest.mark.django_db
def test_docs_walkthrough_runs_command_by_command():
    commands = _walkthrough_commands()
    assert len(commands) >= 10, commands
    admin = make_user("admin", Role.ADMIN, is_staff=True)
    _token, plaintext = api_token_create(user=admin, name="docs")
    env = {"BASE": "http://localhost:8000/api/v1", "TOKEN": plaintext}
    client = Client()
    results = []
    with time_machine.travel("2026-03-01 09:00:00+00:00", tick=False):
        for command in commands:
            results.append(_run(client, command, env))
    # The figures the document states: 30.00 net + 19 % VAT = 35.70; paid in full.
    invoice = next(b for _, b in results if isinstance(b, dict) and b.get("number"))
    assert invoice["total"] == {"amount": "35.70", "currency": "EUR"}
    assert invoice["tax"] == {"amount": "5.70", "currency": "EUR"}
    pdf = next(b for _, b in results if isinstance(b, bytes) and b.startswith(b"%PDF"))
    assert len(pdf) > 1000
    balance = results[-1][1]
    assert balance["balance"] == {"amount": "0.00", "currency": "EUR"}
    assert balance["open_invoices"] == 0
    assert TaxRate.objects.filter(name="VAT 19 %").count() == 1
