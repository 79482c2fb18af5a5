"""The database behind `greenhouse db up|stop|status|url`: PostgreSQL with TimescaleDB.

A fresh clone must get a working database with no manual setup, and Debian 12 packages
PostgreSQL but not TimescaleDB. So `up()` installs what is missing -- PostgreSQL with apt,
TimescaleDB built from Debian 13 (trixie)'s source package, Apache-licensed edition, as Debian
builds it -- and runs a cluster that lives under `.local/`, listens on 127.0.0.1 only and trusts
loopback connections (the documented local default: no password to keep anywhere).

When `DATABASE_URL` names another server, nothing is installed or started: `up()` only checks
that the server has TimescaleDB, enables it, and makes sure Dagster's database exists (that part is
the runtime's, `greenhouse_assets/bootstrap.py`: a deployment's image runs it without this module).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from greenhouse_assets import settings
from greenhouse_assets.bootstrap import NOT_RUNNING, bootstrap
from greenhouse_assets.bootstrap import SetupError as LocalDbError  # one error: the CLI reports both alike
from greenhouse_assets.bootstrap import connect as _connect
from greenhouse_assets.bootstrap import prepare as _up_external
from greenhouse_assets.bootstrap import same_server as _same_server
from greenhouse_assets.bootstrap import status as _status_external
from greenhouse_assets.bootstrap import versions as _versions

MIN_PG_MAJOR = 15
PG_LIB_ROOT = Path("/usr/lib/postgresql")
# Debian 12 has no TimescaleDB; Debian 13 has 2.19.x (Apache edition, PG 15-17), as source.
TIMESCALEDB_SOURCE = "deb-src [signed-by={keyring}] http://deb.debian.org/debian trixie main"
ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
BUILD_PACKAGES = ["cmake", "make", "gcc", "libc6-dev", "libssl-dev", "xz-utils"]
FALLBACK_OS_USER = "greenhouse"
START_TIMEOUT_S = 120
SOCKET_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
# The hot standby (`greenhouse db standby`): it streams WAL as this role, over a slot of this name, and
# this name is its application_name, which `synchronous_standby_names` on the primary waits for.
REPLICATION_ROLE = "greenhouse_replicator"
STANDBY_NAME = "greenhouse_standby"
REPLICATION_HBA = f"host    replication   {REPLICATION_ROLE}   127.0.0.1/32   trust"


# --------------------------------------------------------------------------- public API


def url() -> str:
    """The platform database URL: `DATABASE_URL`, else the local cluster's."""
    return settings.database_url()


def up() -> int:
    """Make the database usable: the external server's, or the local cluster (installed, built, started)."""
    external = _external_url()
    return _guarded("up", lambda: _up_external(external) if external else _up_local())


def stop() -> int:
    """Stop the project-local cluster (fast shutdown); an external server is never touched."""
    return _guarded("stop", _stop_local)


def status() -> int:
    """Report whether the database answers: 0 when it does, 3 when it is not running."""
    external = _external_url()
    return _guarded("status", lambda: _status_external(external) if external else _status_local())


def _guarded(action: str, fn) -> int:
    """Turn a LocalDbError into a message on stderr and exit code 1, as the CLI expects."""
    try:
        return fn() or 0
    except LocalDbError as exc:
        print(f"greenhouse db {action}: error: {exc}", file=sys.stderr, flush=True)
        return 1


def _say(message: str) -> None:
    print(message, flush=True)


def _external_url() -> str | None:
    """`DATABASE_URL` when it names a server other than the local cluster.

    The `greenhouse` CLI exports the local URL as DATABASE_URL before dispatching
    (settings.apply_defaults), so a DATABASE_URL on the local cluster's address (as any role) still
    means "local".
    """
    explicit = settings.explicit_database_url()
    if explicit and not _same_server(explicit, settings.local_url()):
        return explicit
    return None


# --------------------------------------------------------------------------- local cluster


class _Cluster:
    """Where the local cluster keeps its files; all under settings.local_dir() (`.local/`)."""

    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        self.root = root or settings.local_dir()
        self.pgdata = self.root / "pgdata"
        self.log = self.root / "postgres.log"
        self.sockets = self.root / "pgsocket"
        self.port = port or settings.local_port()
        self.url = f"postgresql://{settings.ROLES['pipeline']}@127.0.0.1:{self.port}/{settings.PLATFORM_DB}"

    def admin(self, database: str = "postgres") -> str:
        return f"postgresql://{settings.LOCAL_USER}@127.0.0.1:{self.port}/{database}"

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    def data_major(self) -> int | None:
        """The PostgreSQL major the data directory was made by: it must be run by that one."""
        if not self.initialised():
            return None
        return int((self.pgdata / "PG_VERSION").read_text().strip())


def _up_local() -> int:
    cluster = _Cluster()
    cluster.root.mkdir(parents=True, exist_ok=True)
    with _lock(cluster.root / ".localdb.lock"):
        bindir = _installed_postgres().get(cluster.data_major() or -1)
        if bindir and cluster.initialised() and _is_running(cluster, bindir):
            _ensure_databases(cluster)
            _say(f"already running on port {cluster.port}, {_versions(cluster.url)}, url {cluster.url}")
            _start_standby_if_made(bindir, _os_user(cluster))
            return 0
        bindir = _ensure_postgres(cluster.data_major())
        _ensure_timescaledb(bindir)
        user = _os_user(cluster)
        _prepare_files(cluster, user)
        if not cluster.initialised():
            _initdb(cluster, bindir, user)
        _write_config(cluster, user)
        _start(cluster, bindir, user)
        _ensure_databases(cluster)
        _say(f"started on port {cluster.port}, {_versions(cluster.url)}, url {cluster.url}")
        _start_standby_if_made(bindir, user)
    return 0


def _stop_local() -> int:
    cluster = _Cluster()
    if _external_url():
        _say("note: DATABASE_URL names another server; `stop` only manages the project-local cluster")
    if not cluster.initialised():
        _say(f"no local cluster at {cluster.pgdata}: nothing to stop")
        return 0
    bindir = _bindir_for(cluster)
    if not _is_running(cluster, bindir):
        _say(f"local cluster is not running (port {cluster.port})")
        return 0
    _stop_standby(bindir)
    _run(_as_user(_os_user(cluster), [bindir / "pg_ctl", "stop", "-D", cluster.pgdata, "-m", "fast", "-w"]))
    _say(f"stopped the local cluster on port {cluster.port}")
    return 0


def _status_local() -> int:
    cluster = _Cluster()
    if not cluster.initialised():
        _say(f"not initialised ({cluster.pgdata} missing): run `greenhouse db up`")
        return NOT_RUNNING
    if not _is_running(cluster, _bindir_for(cluster)):
        _say(f"stopped (port {cluster.port}, data {cluster.pgdata}): run `greenhouse db up`")
        return NOT_RUNNING
    _say(f"running on port {cluster.port}, {_versions(cluster.url)}, url {cluster.url}")
    replica = _standby_cluster()
    if replica.initialised():
        state = "running" if _is_running(replica, _bindir_for(replica)) else "stopped"
        _say(f"standby {state} on port {replica.port} (data {replica.pgdata})")
    return 0


def _bindir_for(cluster: _Cluster) -> Path:
    major = cluster.data_major()
    bindir = _installed_postgres().get(major or -1)
    if bindir is None:
        raise LocalDbError(
            f"{cluster.pgdata} was made by PostgreSQL {major}, whose server binaries are not "
            f"installed: run `greenhouse db up` to install them"
        )
    return bindir


def _is_running(cluster: _Cluster, bindir: Path) -> bool:
    """pg_ctl status: 0 running, 3 not running (it reads postmaster.pid; no connection needed)."""
    cmd = _as_user(_os_user(cluster), [bindir / "pg_ctl", "status", "-D", cluster.pgdata])
    return subprocess.run(_strs(cmd), capture_output=True, text=True, cwd=cluster.root).returncode == 0


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Serialise concurrent `up()` calls (parallel test runs) so only one runs initdb/start."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- the hot standby


def standby(sync: bool = True) -> int:
    """`greenhouse db standby`: a streaming replica of the local cluster, made and started (idempotent)."""
    return _guarded("standby", lambda: _make_standby(sync))


def promote() -> int:
    """`greenhouse db promote`: the standby stops replaying and becomes a primary of its own."""
    return _guarded("promote", _promote)


def _standby_cluster() -> _Cluster:
    """The replica lives beside the primary, under `.local/standby/`, on its own port."""
    return _Cluster(settings.local_dir() / "standby", settings.standby_port())


def _make_standby(sync: bool) -> int:
    """pg_basebackup -R from the running primary into `.local/standby/pgdata` over a replication slot (the
    primary keeps the WAL a stopped standby still needs), then start it. With `sync` (the default), the
    primary's commits wait until the standby has flushed them (`synchronous_standby_names`): a crash of
    the primary loses no commit a client saw, at the price of a round trip per commit. A standby that
    stays down then blocks commits on the primary, so `up` starts it and `stop` stops it with the primary."""
    if _external_url():
        raise LocalDbError(
            "DATABASE_URL names another server: replicate it with that server's own means "
            "(Patroni, or a managed PostgreSQL's replicas); `standby` replicates the local cluster"
        )
    primary, replica = _Cluster(), _standby_cluster()
    bindir = _bindir_for(primary)
    if not _is_running(primary, bindir):
        raise LocalDbError(f"the local cluster on port {primary.port} is not running: `greenhouse db up` first")
    user = _os_user(primary)
    with _lock(primary.root / ".localdb.lock"):
        if not replica.initialised():
            _allow_replication(primary, user)
            replica.root.mkdir(parents=True, exist_ok=True)
            _prepare_files(replica, user)
            _say(f"copying the local cluster into {replica.pgdata} (pg_basebackup) …")
            conninfo = f"host=127.0.0.1 port={primary.port} user={REPLICATION_ROLE} application_name={STANDBY_NAME}"
            _run(
                _as_user(
                    user,
                    [
                        bindir / "pg_basebackup",
                        "-d",
                        conninfo,
                        "-D",
                        replica.pgdata,
                        "-R",
                        "-X",
                        "stream",
                        "-S",
                        STANDBY_NAME,
                        "-c",
                        "fast",
                    ],
                ),
                cwd=replica.root,
            )
        _write_config(replica, user)
        if not _is_running(replica, bindir):
            _start(replica, bindir, user)
    with _connect(primary.admin()) as conn:
        names = f'"{STANDBY_NAME}"' if sync else ""
        conn.execute(sql.SQL("ALTER SYSTEM SET synchronous_standby_names = {}").format(sql.Literal(names)))
        conn.execute("SELECT pg_reload_conf()")
        state = _wait_streaming(conn, sync)
    _say(
        f"standby streaming ({state}) on port {replica.port}, data {replica.pgdata}\n"
        f"read-only SQL for analysts: export GREENHOUSE_ANALYST_URL="
        f"postgresql://{settings.ROLES['analyst']}@127.0.0.1:{replica.port}/{settings.PLATFORM_DB}"
    )
    return 0


def _allow_replication(primary: _Cluster, user: str) -> None:
    """The replication role, its pg_hba entry (clusters made before the standby existed lack it) and
    the slot; the slot of a standby since deleted is made again, so it starts at this copy's WAL."""
    hba = primary.pgdata / "pg_hba.conf"
    if REPLICATION_HBA not in hba.read_text():
        with open(hba, "a") as handle:
            handle.write(f"{REPLICATION_HBA}\n")
        _chown(hba, user)
    with _connect(primary.admin()) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [REPLICATION_ROLE]).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN REPLICATION").format(sql.Identifier(REPLICATION_ROLE)))
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s AND NOT active",
            [STANDBY_NAME],
        )
        conn.execute(
            "SELECT pg_create_physical_replication_slot(%s, true) WHERE NOT EXISTS "
            "(SELECT 1 FROM pg_replication_slots WHERE slot_name = %s)",
            [STANDBY_NAME, STANDBY_NAME],
        )


def _wait_streaming(conn: psycopg.Connection, sync: bool) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = %s", [STANDBY_NAME]
        ).fetchone()
        if row and row[0] == "streaming" and (row[1] == "sync") == sync:
            return row[1]
        time.sleep(0.2)
    raise LocalDbError(f"the standby did not start streaming within {START_TIMEOUT_S} s: see its log")


def _promote() -> int:
    """pg_ctl promote, then no synchronous standby for the new primary (it has none: waiting for one
    would block every commit). The platform follows once DATABASE_URL names the new primary."""
    replica = _standby_cluster()
    if not replica.initialised():
        raise LocalDbError(f"no standby at {replica.pgdata}: `greenhouse db standby` makes one")
    bindir = _bindir_for(replica)
    user = _os_user(replica)
    if not _is_running(replica, bindir):
        _write_config(replica, user)
        _start(replica, bindir, user)
    with _connect(replica.admin()) as conn:
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    if in_recovery:
        _run(_as_user(user, [bindir / "pg_ctl", "promote", "-D", replica.pgdata, "-w"]), cwd=replica.root)
    with _connect(replica.admin()) as conn:
        conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
        conn.execute("SELECT pg_reload_conf()")
    _say(
        f"the standby on port {replica.port} is a primary now; point the platform at it:\n"
        f"export DATABASE_URL={replica.url}"
    )
    return 0


def _start_standby_if_made(bindir: Path, user: str) -> None:
    """A synchronous standby that is down blocks the primary's commits: it runs whenever the primary does."""
    replica = _standby_cluster()
    if replica.initialised() and not _is_running(replica, bindir):
        _write_config(replica, user)
        _start(replica, bindir, user)


def _stop_standby(bindir: Path) -> None:
    replica = _standby_cluster()
    if replica.initialised() and _is_running(replica, bindir):
        _run(_as_user(_os_user(replica), [bindir / "pg_ctl", "stop", "-D", replica.pgdata, "-m", "fast", "-w"]))
        _say(f"stopped the standby on port {replica.port}")


# --------------------------------------------------------------------------- installing PostgreSQL


def _installed_postgres() -> dict[int, Path]:
    """Debian-layout server installs (/usr/lib/postgresql/<major>/bin), PG 15 or newer."""
    found: dict[int, Path] = {}
    for bindir in PG_LIB_ROOT.glob("*/bin"):
        name = bindir.parent.name
        tools = ("initdb", "pg_ctl", "postgres", "pg_config")
        if name.isdigit() and int(name) >= MIN_PG_MAJOR and all((bindir / t).exists() for t in tools):
            found[int(name)] = bindir
    return found


def _ensure_postgres(major: int | None) -> Path:
    """The server binaries to use: the data directory's major, else the newest installed; apt if none."""
    installed = _installed_postgres()
    if major is not None and major in installed:
        return installed[major]
    if major is None and installed:
        return installed[max(installed)]
    package = f"postgresql-{major}" if major else "postgresql"
    _say(f"installing {package} with apt-get …")
    _apt_install([package])
    installed = _installed_postgres()
    bindir = installed.get(major) if major else (installed[max(installed)] if installed else None)
    if bindir is None:
        raise LocalDbError(f"installed {package}, yet no server binaries in {PG_LIB_ROOT}/<major>/bin")
    return bindir


_apt_updated = False


def _apt_install(packages: Sequence[str]) -> None:
    """apt-get install on this machine (sudo when not root), after one `apt-get update` per process."""
    global _apt_updated
    if not shutil.which("apt-get"):
        raise LocalDbError(
            f"need {', '.join(packages)} but apt-get is not available: install PostgreSQL "
            f"{MIN_PG_MAJOR}+ with TimescaleDB yourself and set DATABASE_URL"
        )
    apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=600"]
    if not _apt_updated:
        _run(_privileged([*apt, "update"]))
        _apt_updated = True
    _run(_privileged([*apt, "install", "--no-install-recommends", *packages]))


def _missing_packages(packages: Sequence[str]) -> list[str]:
    missing = []
    for package in packages:
        probe = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package], capture_output=True, text=True)
        if not probe.stdout.startswith("ii"):
            missing.append(package)
    return missing


# --------------------------------------------------------------------------- building TimescaleDB


def _ensure_timescaledb(bindir: Path) -> None:
    """Build and install TimescaleDB for this PostgreSQL unless its files are already there."""
    sharedir = Path(_run([bindir / "pg_config", "--sharedir"]).strip())
    pkglibdir = Path(_run([bindir / "pg_config", "--pkglibdir"]).strip())
    if (sharedir / "extension" / "timescaledb.control").exists() and (pkglibdir / "timescaledb.so").exists():
        return
    major = bindir.parent.name
    needed = _missing_packages([*BUILD_PACKAGES, f"postgresql-server-dev-{major}"])
    if needed:
        _say(f"installing build dependencies {' '.join(needed)} …")
        _apt_install(needed)
    with tempfile.TemporaryDirectory(prefix="greenhouse-timescaledb-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # apt downloads as its unprivileged `_apt` user
        source = _fetch_timescaledb_source(workdir)
        version = source.name.removeprefix("timescaledb-")
        _say(f"building TimescaleDB {version} from Debian source for PostgreSQL {major} …")
        started = time.monotonic()
        _compile_and_install(source, workdir / "build", bindir / "pg_config")
    _say(f"built and installed TimescaleDB {version} in {time.monotonic() - started:.0f} s")


def _fetch_timescaledb_source(workdir: Path) -> Path:
    """Download trixie's `timescaledb` source package with a private apt configuration.

    The separate sources list, lists and cache directories leave the machine's own apt setup
    untouched; apt still verifies the Release signature (Debian archive keyring) and the hashes.
    """
    lists, cache, download = workdir / "apt-lists", workdir / "apt-cache", workdir / "download"
    for path in (lists / "partial", cache / "archives" / "partial", download):
        path.mkdir(parents=True)
    sources = workdir / "sources.list"
    sources.write_text(TIMESCALEDB_SOURCE.format(keyring=ARCHIVE_KEYRING) + "\n")
    apt = [
        "apt-get", "-q",
        "-o", f"Dir::Etc::SourceList={sources}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State::Lists={lists}",
        "-o", f"Dir::Cache={cache}",
    ]  # fmt: skip
    try:
        _run([*apt, "update"])
    except LocalDbError as exc:
        if "NO_PUBKEY" not in str(exc) and "not signed" not in str(exc):
            raise
        _say("the archive keyring lacks Debian 13's keys: updating debian-archive-keyring …")
        _apt_install(["debian-archive-keyring"])
        _run([*apt, "update"])
    _run([*apt, "source", "--download-only", "timescaledb"], cwd=download)
    tarballs = sorted(download.glob("timescaledb_*.orig.tar.*"))
    if not tarballs:
        raise LocalDbError(f"apt-get source timescaledb downloaded no .orig tarball into {download}")
    # Debian's patches only touch tests and a git hook: the upstream tarball builds as is.
    _run(["tar", "-xf", tarballs[-1], "-C", workdir])
    sources_dirs = sorted(workdir.glob("timescaledb-*/CMakeLists.txt"))
    if not sources_dirs:
        raise LocalDbError(f"{tarballs[-1].name} did not unpack to a timescaledb-<version>/ directory")
    return sources_dirs[-1].parent


def _compile_and_install(source: Path, build: Path, pg_config: Path) -> None:
    """cmake as Debian's rules do: Apache code only (the +dfsg tarball has no TSL code), no telemetry."""
    _run([
        "cmake", "-S", source, "-B", build,
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DPG_CONFIG={pg_config}",
        "-DAPACHE_ONLY=ON",
        "-DREGRESS_CHECKS=OFF",
        "-DTAP_CHECKS=OFF",
        "-DWARNINGS_AS_ERRORS=OFF",
        "-DUSE_TELEMETRY=OFF",
        "-DSEND_TELEMETRY_DEFAULT=OFF",
    ])  # fmt: skip
    _run(["cmake", "--build", build, "--parallel", str(os.cpu_count() or 2)])
    _run(_privileged(["cmake", "--install", build]))


# --------------------------------------------------------------------------- creating and starting


def _os_user(cluster: _Cluster) -> str:
    """The OS user PostgreSQL runs as: initdb and postgres refuse to run as root.

    Not root: ourselves. Root: the data directory's owner, else Debian's `postgres`, else a
    system user `greenhouse` made for the purpose.
    """
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        if cluster.pgdata.exists() and cluster.pgdata.stat().st_uid != me.pw_uid:
            owner = _user_name(cluster.pgdata.stat().st_uid)
            raise LocalDbError(f"{cluster.pgdata} belongs to {owner}; run this as {owner} or root")
        return me.pw_name
    if cluster.pgdata.exists() and cluster.pgdata.stat().st_uid != 0:
        return _user_name(cluster.pgdata.stat().st_uid)
    for name in ("postgres", FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    _say(f"creating system user {FALLBACK_OS_USER!r} to run PostgreSQL …")
    _run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
          "--shell", "/usr/sbin/nologin", FALLBACK_OS_USER])  # fmt: skip
    return FALLBACK_OS_USER


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _prepare_files(cluster: _Cluster, user: str) -> None:
    """Data dir, socket dir and log owned by the server's user, reachable through the project path."""
    _check_reachable(cluster.root, user)
    cluster.pgdata.mkdir(mode=0o700, exist_ok=True)
    cluster.sockets.mkdir(mode=0o755, exist_ok=True)
    cluster.log.touch(exist_ok=True)
    for path in (cluster.pgdata, cluster.sockets, cluster.log):
        _chown(path, user)


def _check_reachable(directory: Path, user: str) -> None:
    """Fail early and clearly when the server's user cannot enter a parent (e.g. a 0700 temp dir)."""
    if os.geteuid() != 0 or user == "root":
        return
    if _user_can_enter(directory, user):
        return
    for path in [*reversed(directory.parents), directory]:
        if not _user_can_enter(path, user):
            mode = oct(path.stat().st_mode & 0o777)
            raise LocalDbError(
                f"PostgreSQL runs as OS user {user!r}, which cannot enter {path} (mode {mode}). "
                f"Make it traversable (chmod o+x {path}) or set GREENHOUSE_LOCAL_DIR to a "
                f"directory {user!r} can reach."
            )


def _user_can_enter(path: Path, user: str) -> bool:
    return subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(path)]).returncode == 0


def _chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _initdb(cluster: _Cluster, bindir: Path, user: str) -> None:
    """A new cluster whose superuser is `greenhouse`, trusting local and loopback connections only.

    The superuser only bootstraps (`bootstrap`): migrations, the pipeline, analysts and Dagster each
    connect as their own role (roles.py)."""
    _say(f"initialising a new cluster in {cluster.pgdata} …")
    _run(
        _as_user(user, [
            bindir / "initdb", "-D", cluster.pgdata, "-U", settings.LOCAL_USER,
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
        ]),
        cwd=cluster.root,
    )  # fmt: skip
    hba = cluster.pgdata / "pg_hba.conf"
    hba.write_text(
        "# Project-local cluster: trust, but only over the Unix socket and loopback.\n"
        "local   all   all                  trust\n"
        "host    all   all   127.0.0.1/32   trust\n"
        "host    all   all   ::1/128        trust\n"
        f"{REPLICATION_HBA}\n"
    )
    with open(cluster.pgdata / "postgresql.conf", "a") as conf:
        conf.write("\n# `greenhouse db up` rewrites greenhouse.conf before every start.\n")
        conf.write("include 'greenhouse.conf'\n")
    _chown(hba, user)


def _write_config(cluster: _Cluster, user: str) -> None:
    """Rewritten before each start, so a changed port or project path takes effect on restart."""
    sockets = str(cluster.sockets)
    if len(f"{sockets}/.s.PGSQL.{cluster.port}") > SOCKET_PATH_MAX:
        _say(f"note: {sockets} is too long for a Unix socket path; the cluster listens on TCP only")
        sockets = ""
    settings_lines = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(cluster.port),
        "unix_socket_directories": _quote(sockets),
        # No platform program is a superuser, so none may use the slots reserved for one: room for
        # `dagster dev` (webserver, daemon, code servers, runs) beside two test workers' stacks.
        "max_connections": "200",
        "shared_preload_libraries": "'timescaledb'",
        "timescaledb.telemetry_level": "off",
        "shared_buffers": "'128MB'",
        "work_mem": "'16MB'",
        "maintenance_work_mem": "'128MB'",
        "effective_cache_size": "'1GB'",
        "max_worker_processes": "16",
        "timescaledb.max_background_workers": "8",
        "fsync": "on",
        # A 1 M-row file writes ~250 MB of WAL: with the default 1 GB / 5 min, a few loads in a row
        # force checkpoints mid-COPY, and the same load then takes anywhere from 2.8 s to 5 s.
        "max_wal_size": "'4GB'",
        "checkpoint_timeout": "'15min'",
    }
    conf = cluster.pgdata / "greenhouse.conf"
    conf.write_text(
        "# Written by `greenhouse db up` (greenhouse_dev/localdb.py) before every start.\n"
        + "".join(f"{key} = {value}\n" for key, value in settings_lines.items())
    )
    _chown(conf, user)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _start(cluster: _Cluster, bindir: Path, user: str) -> None:
    _say(f"starting PostgreSQL {bindir.parent.name} on 127.0.0.1:{cluster.port} (log {cluster.log}) …")
    cmd = [bindir / "pg_ctl", "start", "-D", cluster.pgdata, "-w", "-t", START_TIMEOUT_S, "-l", cluster.log]
    try:
        _run(_as_user(user, cmd), cwd=cluster.root)
    except LocalDbError as exc:
        log_tail = _tail(cluster.log.read_text(errors="replace"))
        raise LocalDbError(f"{exc}\n--- tail of {cluster.log} ---\n{log_tail}") from None


def _ensure_databases(cluster: _Cluster) -> None:
    """Roles, then `greenhouse` (with TimescaleDB) and `dagster`, as the cluster's superuser `greenhouse`."""
    bootstrap(
        settings.local_url(settings.PLATFORM_DB, settings.LOCAL_USER),
        platform_db=settings.PLATFORM_DB,
        dagster_db=settings.DAGSTER_DB,
    )


def fresh_platform(admin_url: str, *, platform_db: str, dagster_db: str) -> dict[str, str]:
    """Throwaway platform and Dagster databases (tests, benchmarks): dropped, recreated by `bootstrap` and
    migrated as the owner. Returns `platform_env` for them."""
    from greenhouse_assets import migrate

    with _connect(settings.with_database(admin_url, "postgres")) as conn:
        for name in (platform_db, dagster_db):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    bootstrap(admin_url, platform_db=platform_db, dagster_db=dagster_db)
    env = platform_env(admin_url, platform_db=platform_db, dagster_db=dagster_db)
    migrate.upgrade(url=env["GREENHOUSE_OWNER_URL"])
    return env


def platform_env(admin_url: str, *, platform_db: str, dagster_db: str) -> dict[str, str]:
    """The environment that points the platform at those databases, as each role: DATABASE_URL (pipeline),
    DAGSTER_DATABASE_URL, GREENHOUSE_OWNER_URL, GREENHOUSE_ADMIN_URL. No connection: the test session sets
    it before collection, and creates the databases only when a selected test needs them."""
    platform = settings.with_database(admin_url, platform_db)
    return {
        "GREENHOUSE_ADMIN_URL": platform,
        "GREENHOUSE_OWNER_URL": settings.as_role(platform, "owner"),
        "DATABASE_URL": settings.as_role(platform, "pipeline"),
        "DAGSTER_DATABASE_URL": settings.as_role(settings.with_database(admin_url, dagster_db), "dagster"),
    }


# --------------------------------------------------------------------------- helpers


def _as_user(user: str, cmd: Sequence) -> list:
    """Run a PostgreSQL tool as the server's OS user (they refuse root)."""
    if os.geteuid() == 0 and user != "root":
        return ["runuser", "-u", user, "--", *cmd]
    return list(cmd)


def _privileged(cmd: Sequence) -> list:
    """Root for installing system packages and files: sudo when we are not root already."""
    if os.geteuid() == 0:
        return list(cmd)
    if not shutil.which("sudo"):
        raise LocalDbError(f"need root to run {' '.join(_strs(cmd))}, and sudo is not installed")
    return ["sudo", *cmd]


def _strs(cmd: Sequence) -> list[str]:
    return [str(part) for part in cmd]


def _run(cmd: Sequence, cwd: Path | None = None) -> str:
    """Run a command, check=True; on failure raise with the command and the tail of its output."""
    args = _strs(cmd)
    try:
        done = subprocess.run(
            args, check=True, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except FileNotFoundError as exc:
        raise LocalDbError(f"command not found: {args[0]}") from exc
    except subprocess.CalledProcessError as exc:
        raise LocalDbError(
            f"command failed (exit {exc.returncode}): {' '.join(args)}\n{_tail(exc.stdout or '')}"
        ) from None
    return done.stdout


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
