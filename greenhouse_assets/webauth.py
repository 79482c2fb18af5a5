"""The Dagster UI behind authentication: nginx with basic auth in front of two webservers.

Dagster's open-source webserver has no login of its own: whoever reaches it can launch, terminate or
wipe runs. So the webservers listen only on loopback (`make dev AUTH=1`) or on the compose network,
and nginx, the one thing that listens for users, asks for a user name and password (an htpasswd
file written from environment variables, SHA-512 crypt hashes made by `openssl passwd`; never a
file in the repository) and routes by who logged in:

- operators (`GREENHOUSE_UI_OPERATOR_USER`/`_PASSWORD`) reach the full webserver;
- everyone else who authenticated, i.e. viewers (`GREENHOUSE_UI_VIEWER_USER`/`_PASSWORD`), reaches
  `dagster-webserver --read-only`, which can show everything and launch nothing. A viewer's
  requests never reach the full webserver, whatever URL they ask for.

nginx does not pass the Authorization header on: the webservers never see a password. For single
sign-on (OIDC) see README "Governance": oauth2-proxy in front of the same two upstreams.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from greenhouse_assets import settings

USER_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


class AuthSetupError(RuntimeError):
    """What is missing to start the authenticated UI (credentials, nginx, openssl) and how to fix it."""


@dataclass(frozen=True)
class Account:
    user: str
    password: str


def accounts_from_env(env: dict[str, str] | None = None) -> tuple[Account, Account]:
    """(operator, viewer) from the environment; passwords have no default."""
    env = os.environ if env is None else env
    found = []
    for role in ("OPERATOR", "VIEWER"):
        user = env.get(f"GREENHOUSE_UI_{role}_USER", role.lower())
        password = env.get(f"GREENHOUSE_UI_{role}_PASSWORD", "")
        if not USER_NAME.fullmatch(user):
            raise AuthSetupError(f"GREENHOUSE_UI_{role}_USER={user!r}: use letters, digits and . _ @ - only")
        if not password:
            raise AuthSetupError(
                f"set GREENHOUSE_UI_{role}_PASSWORD (and optionally GREENHOUSE_UI_{role}_USER, "
                f"default {role.lower()!r}) to start the UI behind authentication"
            )
        found.append(Account(user, password))
    operator, viewer = found
    if operator.user == viewer.user:
        raise AuthSetupError(f"operator and viewer are both {operator.user!r}: give them different user names")
    return operator, viewer


def htpasswd_line(account: Account) -> str:
    """`user:$6$...` (SHA-512 crypt, which nginx checks through the system's crypt()); the password goes to
    openssl on stdin, never on a command line."""
    if shutil.which("openssl") is None:
        raise AuthSetupError("openssl not found: install it (apt-get install openssl)")
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"], input=account.password, capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{account.user}:{hashed}"


def nginx_conf(*, state: Path, listen: str, operator_ui: str, viewer_ui: str, operator: str) -> str:
    """nginx.conf for the proxy: every path (logs, pid, buffers) inside `state`, the htpasswd beside it."""
    # Started as root, nginx would run its workers as `nobody`, who cannot read the 0600 htpasswd.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {state / 'tmp' / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""# Written by `greenhouse ui-proxy` (greenhouse_assets/webauth.py); rewritten at every start.
{user}
worker_processes 1;
pid {state / "nginx.pid"};
error_log {state / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
    access_log {state / "access.log"};
{temp}
    upstream operator_ui {{ server {operator_ui}; }}
    upstream viewer_ui {{ server {viewer_ui}; }}
    # Only the operator reaches the full webserver; any other authenticated user the read-only one.
    map $remote_user $dagster_ui {{
        default viewer_ui;
        "{operator}" operator_ui;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        "" close;
    }}
    server {{
        listen {listen};
        auth_basic "Greenhouse platform";
        auth_basic_user_file {state / "htpasswd"};
        client_max_body_size 50m;
        location / {{
            proxy_pass http://$dagster_ui;
            proxy_http_version 1.1;
            # The UI's live updates are a websocket on /graphql.
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-User $remote_user;
            proxy_set_header Authorization "";
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


def prepare(state: Path, *, listen: str, operator_ui: str, viewer_ui: str) -> list[str]:
    """Write the htpasswd and nginx.conf into `state`; the nginx command line that serves them."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        raise AuthSetupError("nginx not found: `make dev AUTH=1` installs it (apt-get install nginx-light)")
    operator, viewer = accounts_from_env()
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (state / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    htpasswd = state / "htpasswd"
    htpasswd.touch(mode=0o600)
    htpasswd.chmod(0o600)
    htpasswd.write_text("\n".join(htpasswd_line(a) for a in (operator, viewer)) + "\n", encoding="utf-8")
    conf = state / "nginx.conf"
    conf.write_text(
        nginx_conf(state=state, listen=listen, operator_ui=operator_ui, viewer_ui=viewer_ui, operator=operator.user),
        encoding="utf-8",
    )
    return [nginx, "-e", str(state / "error.log"), "-p", str(state), "-c", str(conf), "-g", "daemon off;"]


def serve_proxy(*, listen: str, operator_ui: str, viewer_ui: str, state: Path | None = None) -> int:
    """`greenhouse ui-proxy`: nginx in the foreground in front of webservers that already run (compose)."""
    state = state or settings.local_dir() / f"ui-proxy-{listen.rsplit(':', 1)[-1]}"
    command = prepare(state, listen=listen, operator_ui=operator_ui, viewer_ui=viewer_ui)
    os.execv(command[0], command)


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dev_with_auth(host: str, port: int) -> int:
    """`greenhouse dev --auth`: `dagster dev` (full webserver + daemon) and a read-only webserver, both on
    loopback ports, and nginx on `host:port`. Runs until one of them stops or this process is signalled
    (Ctrl-C, SIGTERM), then stops the others."""
    bindir = Path(sys.executable).parent
    workspace = str(settings.PROJECT_ROOT / "workspace.yaml")
    full, read_only = _free_loopback_port(), _free_loopback_port()
    # One state folder per port: two stacks (e.g. parallel test sessions) never share a config.
    nginx = prepare(
        settings.local_dir() / f"ui-proxy-{port}",
        listen=f"{host}:{port}",
        operator_ui=f"127.0.0.1:{full}",
        viewer_ui=f"127.0.0.1:{read_only}",
    )
    commands = [
        [str(bindir / "dagster"), "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(full)],
        [str(bindir / "dagster-webserver"), "--read-only", "-w", workspace, "-h", "127.0.0.1", "-p", str(read_only)],
        nginx,
    ]
    print(
        f"Dagster UI behind authentication: http://{host}:{port} (operators: full UI, viewers: read-only)", flush=True
    )
    # Children stay in this process group: Ctrl-C, or a signal to the group, reaches all of them.
    processes = [subprocess.Popen(command, cwd=settings.PROJECT_ROOT) for command in commands]
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 30
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    failed = [p for p in processes if p.returncode not in (0, -signal.SIGTERM, -signal.SIGINT)]
    return 0 if stopping or not failed else 1
