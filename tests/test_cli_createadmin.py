"""``ispbill createadmin``: the first operator administrator of a real installation."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from ispbill.accounts.models import Role, User
from ispbill.cli import main
from ispbill.core.models import AuditEvent

pytestmark = pytest.mark.django_db

GOOD = "correct horse battery staple 42"


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_from_flags_and_stdin_then_sign_in(monkeypatch, capsys):
    _stdin(monkeypatch, GOOD + "\n")
    code = main(
        ["createadmin", "--username", "ops", "--email", "ops@isp.example", "--password-stdin"]
    )
    assert code == 0, capsys.readouterr().err
    user = User.objects.get(username="ops")
    assert (user.role, user.email, user.partner_id) == (Role.ADMIN, "ops@isp.example", None)
    assert user.check_password(GOOD)
    assert AuditEvent.objects.filter(action="user.created", changes__username="ops").exists()
    assert Client().login(username="ops", password=GOOD)
    assert "created" in capsys.readouterr().out


def test_from_the_environment(monkeypatch):
    _stdin(monkeypatch, "")
    monkeypatch.setenv("ISPBILL_ADMIN_PASSWORD", GOOD)
    assert main(["createadmin", "--username", "ops2", "--email", ""]) == 0
    assert User.objects.get(username="ops2").check_password(GOOD)


def test_interactive(monkeypatch, capsys):
    answers = iter(["ops3", "ops3@isp.example"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": GOOD)
    assert main(["createadmin"]) == 0, capsys.readouterr().err
    assert User.objects.get(username="ops3").email == "ops3@isp.example"


def test_refusals_say_why_and_write_nothing(monkeypatch, capsys):
    _stdin(monkeypatch, GOOD + "\n")
    assert main(["createadmin", "--username", "ops", "--email", "", "--password-stdin"]) == 0
    capsys.readouterr()

    _stdin(monkeypatch, GOOD + "\n")
    assert main(["createadmin", "--username", "OPS", "--email", "", "--password-stdin"]) == 1
    assert "taken" in capsys.readouterr().err

    _stdin(monkeypatch, "123\n")
    assert main(["createadmin", "--username", "weak", "--email", "", "--password-stdin"]) == 1
    assert "password" in capsys.readouterr().err
    assert not User.objects.filter(username="weak").exists()

    _stdin(monkeypatch, "")
    assert main(["createadmin", "--username", "nopass", "--email", ""]) == 1
    assert "no password" in capsys.readouterr().err
    assert User.objects.filter(role=Role.ADMIN).count() == 1
