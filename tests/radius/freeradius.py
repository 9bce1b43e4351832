"""Debian's FreeRADIUS started by a test: a copy of /etc/freeradius/3.0 with one virtual
server on 127.0.0.1 and a free port, its sql module pointed at the test database, run in
the foreground (``-X``) as a subprocess that the test stops. And ``radclient`` to ask it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path("/etc/freeradius/3.0")
SECRET = "ispbill-test-secret"
START_TIMEOUT = 30.0
KEEP_MODULES = {"always", "expr", "pap", "preprocess"}


def freeradius_binary() -> str | None:
    return shutil.which("freeradius") or shutil.which("radiusd")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SITE = """
server ispbill {
    listen {
        type = auth
        ipaddr = 127.0.0.1
        port = %(port)d
    }
    listen {
        type = acct
        ipaddr = 127.0.0.1
        port = %(acct_port)d
    }
    authorize {
        preprocess
        sql
        pap
    }
    authenticate {
        Auth-Type PAP {
            pap
        }
    }
    post-auth {
    }
    preacct {
        preprocess
        acct_unique
    }
    accounting {
        sql
    }
}
"""

CLIENTS = """
client localhost {
    ipaddr = 127.0.0.1
    secret = %(secret)s
    require_message_authenticator = no
    nas_type = other
}
"""

SQL = """
sql {
    dialect = "postgresql"
    driver = "rlm_sql_postgresql"
    postgresql {
        send_application_name = yes
    }
    radius_db = "%(conninfo)s"
    acct_table1 = "radacct"
    acct_table2 = "radacct"
    postauth_table = "radpostauth"
    authcheck_table = "radcheck"
    groupcheck_table = "radgroupcheck"
    authreply_table = "radreply"
    groupreply_table = "radgroupreply"
    usergroup_table = "radusergroup"
    delete_stale_sessions = yes
    pool {
        start = 1
        min = 1
        max = 2
        spare = 1
        uses = 0
        retry_delay = 1
        lifetime = 0
        idle_timeout = 60
    }
    read_clients = no
    client_table = "nas"
    group_attribute = "SQL-Group"
    $INCLUDE ${modconfdir}/${.:name}/main/${dialect}/queries.conf
}
"""


def write_config(root: Path, *, port: int, db: dict[str, object], acct_port: int = 0) -> Path:
    """A FreeRADIUS configuration directory under ``root`` for the database ``db`` (Django's
    settings_dict of the test database)."""
    raddb = root / "raddb"
    shutil.copytree(SOURCE, raddb, symlinks=True)
    conf = raddb / "radiusd.conf"
    text = conf.read_text()
    # Run as the invoking user, with logs and pid file in the temporary directory.
    text = re.sub(r"(?m)^(\s*)(user|group) = .*$", r"\1# \2 (as the invoking user)", text)
    text = re.sub(r"(?m)^logdir = .*$", f"logdir = {root}", text)
    text = re.sub(r"(?m)^run_dir = .*$", f"run_dir = {root}", text)
    conf.write_text(text)
    for site in (raddb / "sites-enabled").iterdir():
        site.unlink()
    (raddb / "sites-enabled" / "ispbill").write_text(
        SITE % {"port": port, "acct_port": acct_port or port + 1}
    )
    for module in (raddb / "mods-enabled").iterdir():
        if module.name not in KEEP_MODULES:
            module.unlink()
    conninfo = " ".join(
        f"{key}={value}"
        for key, value in (
            ("dbname", db["NAME"]),
            ("host", db.get("HOST") or "127.0.0.1"),
            ("port", db.get("PORT") or 5432),
            ("user", db.get("USER") or "postgres"),
            ("password", db.get("PASSWORD") or ""),
        )
        if value != ""
    )
    (raddb / "mods-enabled" / "sql").write_text(SQL % {"conninfo": conninfo})
    (raddb / "clients.conf").write_text(CLIENTS % {"secret": SECRET})
    return raddb


@dataclass
class RadiusServer:
    port: int
    raddb: Path
    log: Path
    acct_port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def freeradius_running(root: Path, *, db: dict[str, object]) -> Iterator[RadiusServer]:
    """FreeRADIUS in the foreground on 127.0.0.1; stopped (killed if it must) on exit."""
    binary = freeradius_binary()
    assert binary, "FreeRADIUS is not installed (scripts/ensure-services.sh installs it)"
    port = free_udp_port()
    acct_port = free_udp_port()
    raddb = write_config(root, port=port, db=db, acct_port=acct_port)
    server = RadiusServer(port=port, raddb=raddb, log=root / "freeradius.log", acct_port=acct_port)
    with server.log.open("wb") as out:
        server.process = subprocess.Popen(
            [binary, "-X", "-d", str(raddb)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Ready to process requests" not in server.log_text():
            if server.process.poll() is not None:
                raise AssertionError(f"FreeRADIUS exited:\n{server.log_text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"FreeRADIUS not ready:\n{server.log_text()[-4000:]}")
            time.sleep(0.1)
        yield server
    finally:
        _stop(server.process)


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@dataclass(frozen=True)
class Answer:
    code: str  # Access-Accept, Access-Reject, or "" when none came
    attributes: dict[str, str]
    output: str


def radclient_auth(server: RadiusServer, username: str, password: str) -> Answer:
    """An Access-Request with PAP, sent by FreeRADIUS's own ``radclient``."""
    request = f'User-Name = "{username}", User-Password = "{password}"\n'
    done = subprocess.run(
        [
            "radclient",
            "-x",
            "-r",
            "1",
            "-t",
            "3",
            "-d",
            str(server.raddb),
            f"127.0.0.1:{server.port}",
            "auth",
            SECRET,
        ],
        input=request.encode(),
        capture_output=True,
        timeout=15,
        check=False,
    )
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    match = re.search(r"Received (Access-\w+)", output)
    attributes: dict[str, str] = {}
    if match:
        reply = output[match.end() :]
        for name, value in re.findall(r"^\s+([\w-]+) = (.*)$", reply, flags=re.M):
            attributes[name] = value.strip().strip('"')
    return Answer(code=match.group(1) if match else "", attributes=attributes, output=output)


def radclient_acct(server: RadiusServer, attributes: dict[str, str | int]) -> str:
    """An Accounting-Request (Start, Interim-Update, Stop) sent by ``radclient``; answers
    "Accounting-Response" when FreeRADIUS stored it, "" otherwise."""
    request = ", ".join(
        f'{name} = "{value}"' if isinstance(value, str) else f"{name} = {value}"
        for name, value in attributes.items()
    )
    done = subprocess.run(
        [
            *("radclient", "-x", "-r", "1", "-t", "3", "-d", str(server.raddb)),
            *(f"127.0.0.1:{server.acct_port}", "acct", SECRET),
        ],
        input=(request + "\n").encode(),
        capture_output=True,
        timeout=15,
        check=False,
    )
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    match = re.search(r"Received (Accounting-Response)", output)
    return match.group(1) if match else ""
