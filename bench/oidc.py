"""Sésame's OpenID Connect endpoints side by side with panva's node-oidc-provider, in one run.

Run: ``.venv/bin/python bench/oidc.py [--duration 5] [--connections 1,16,64] [--json out.json]``.

Both servers run on this machine at once, on 127.0.0.1, with one worker per core:
``sesame serve --workers N`` (production mode, a fresh SQLite database in a temporary folder, or
``--db postgresql`` for a throwaway PostgreSQL cluster started as scripts/services.sh does), and
``oidc-provider`` (installed here with ``npm install`` into the temporary folder) under
``node:cluster``, with a Redis adapter (a throwaway ``redis-server``) that every worker shares.
Both are configured alike (bench/oidc_peer/provider.mjs says how): ES256 keys, JWT access tokens,
``client_secret_basic``, pairwise subjects, PKCE, refresh tokens rotated at every use.

The load generator is wrk (``apt-get install wrk``), driven by bench/oidc_peer/request.lua. The
token endpoint's authorization_code and refresh_token grants consume codes and refresh tokens
made just before each run through each server's own code (Sésame's repositories, the Node
provider's models): every request spends a different one. Introspection and userinfo are
given each server's own access token: Sésame's JWT; an opaque one for oidc-provider, whose JWT
access tokens are for resource servers and refused at both endpoints. Every run reports its
non-2xx answers and socket errors; a run with any is flagged in the table, never hidden.

Prints, for each endpoint and concurrency, requests/s and p50/p99 latency of both servers and
the ratio Sésame/Node (above 1: Sésame is faster). Progress goes to standard error. Everything
started (servers, Redis, PostgreSQL) and the temporary folder are removed at exit, Ctrl-C too.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEER_DIR = Path(__file__).resolve().parent / "oidc_peer"
LUA_SCRIPT = PEER_DIR / "request.lua"
SESAME = ROOT / ".venv" / "bin" / "sesame"
NPM_PACKAGES = ("oidc-provider@^9", "ioredis@^5")

#: Endpoints in the order they run: client_credentials first, its rate sizes the batches of codes.
ENDPOINTS: dict[str, str] = {
    "discovery": "GET discovery document",
    "jwks": "GET JWKS",
    "token_cc": "POST token, client_credentials",
    "token_refresh": "POST token, refresh_token",
    "token_code": "POST token, authorization_code",
    "introspect_rt": "POST introspection, refresh token",
    "introspect_at": "POST introspection, access token",
    "userinfo": "GET userinfo, Bearer",
}
CONSUMING = {"token_refresh", "token_code"}
SERVERS = ("sesame", "node")
LABELS = {"sesame": "Sésame", "node": "Node"}

TENANT = "bench"
REDIRECT_URI = "http://127.0.0.1:9/cb"
RESOURCE = "urn:sesame-bench:api"
PERSON = {
    "email": "bench@example.fr",
    "email_verified": True,
    "given_name": "Bench",
    "family_name": "User",
    "name": "Bench User",
    "locale": "fr",
}
BENCH_PASSWORD = "Bench-Sesame-2026!x"  # noqa: S105 - a throwaway account of a throwaway database
#: Pre-generated codes live this long on both servers (generated right before their run).
CODE_LIFETIME = timedelta(minutes=10)
MAX_DURATION = 60
FALLBACK_RATE = 3000.0


def log(message: str) -> None:
    print(f"[bench/oidc] {message}", file=sys.stderr, flush=True)


# -- pure helpers (tests/bench/test_oidc_bench.py) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one wrk run measured (the JSON line of request.lua's ``done``)."""

    requests: int
    duration_us: int
    bytes: int
    connect_errors: int
    read_errors: int
    write_errors: int
    status_errors: int
    timeouts: int
    latency_mean_us: float
    latency_p50_us: int
    latency_p90_us: int
    latency_p99_us: int
    latency_max_us: int
    consumed: int = 0
    exhausted_threads: int = 0

    @property
    def rate(self) -> float:
        """Requests per second (wrk counts completed requests over the whole run)."""
        return self.requests / (self.duration_us / 1e6) if self.duration_us > 0 else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts

    @property
    def problems(self) -> list[str]:
        """Why this run's figures cannot be trusted as they are (empty: they can)."""
        found = []
        if self.status_errors:
            found.append(f"{self.status_errors} non-2xx")
        if self.socket_errors:
            found.append(f"{self.socket_errors} socket errors")
        if self.exhausted_threads:
            found.append("ran out of pre-generated codes/tokens")
        if self.requests == 0:
            found.append("no request completed")
        return found


WRK_MARKER = "@@wrk "


def parse_wrk_output(stdout: str) -> WrkResult:
    """The figures of a wrk run from its standard output (the ``@@wrk`` line of request.lua)."""
    for line in stdout.splitlines():
        if line.startswith(WRK_MARKER):
            data = json.loads(line[len(WRK_MARKER) :])
            return WrkResult(**{name: data[name] for name in WrkResult.__dataclass_fields__ if name in data})
    raise ValueError("wrk printed no @@wrk line (did the Lua script fail?):\n" + stdout[-2000:])


def parse_connections(text: str) -> list[int]:
    """``"1,16,64"`` to ``[1, 16, 64]`` (positive, sorted, without duplicates)."""
    values = sorted({int(part) for part in text.split(",") if part.strip()})
    if not values or values[0] < 1 or values[-1] > 1024:
        raise ValueError("connections must be between 1 and 1024")
    return values


def consumables_needed(rate: float, seconds: float, connections: int, *, headroom: float = 1.5) -> int:
    """How many codes (or refresh tokens) a run of ``seconds`` should find ready, from the rate
    the server reached on a cheaper endpoint: with headroom, plus what is in flight at the end."""
    return math.ceil(max(rate, 1.0) * seconds * headroom) + 8 * connections + 100


@dataclass(slots=True)
class Row:
    """One endpoint at one concurrency: a result per server (None when not run)."""

    endpoint: str
    connections: int
    results: dict[str, WrkResult | None] = field(default_factory=dict)


def ratio(row: Row) -> float | None:
    """Sésame's requests/s over Node's (above 1: Sésame is faster)."""
    ours, theirs = row.results.get("sesame"), row.results.get("node")
    if ours is None or theirs is None or theirs.rate == 0:
        return None
    return ours.rate / theirs.rate


def _cell(result: WrkResult | None) -> str:
    if result is None:
        return f"{'-':>9} {'-':>8} {'-':>8}"
    flag = "!" if result.problems else " "
    return f"{result.rate:>8,.0f}{flag} {result.latency_p50_us / 1000:>8.2f} {result.latency_p99_us / 1000:>8.2f}"


def format_table(rows: Sequence[Row]) -> str:
    """The side-by-side table (latencies in milliseconds); ``!`` marks a run with problems,
    listed under the table."""
    head = f"{'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
    lines = [
        f"{'':<16} {'':>5}   {LABELS['sesame']:^27}   {LABELS['node']:^27}",
        f"{'endpoint':<16} {'conns':>5} | {head} | {head} | {'Sésame/Node':>11}",
        "-" * 94,
    ]
    notes = []
    for row in rows:
        value = ratio(row)
        shown = f"{value:>11.2f}" if value is not None else f"{'-':>11}"
        lines.append(
            f"{row.endpoint:<16} {row.connections:>5} | {_cell(row.results.get('sesame'))} | "
            f"{_cell(row.results.get('node'))} | {shown}"
        )
        for server in SERVERS:
            result = row.results.get(server)
            if result is not None and result.problems:
                notes.append(f"! {row.endpoint} x{row.connections} {LABELS[server]}: {', '.join(result.problems)}")
    return "\n".join(lines + notes)


def basic_authorization(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: both parts form-urlencoded, then base64."""
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


# -- processes and temporary files ----------------------------------------------------------------


class Cleanup:
    """Everything to undo at exit, newest first: process groups, services, folders."""

    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], None]]] = []

    def add(self, what: str, undo: Callable[[], None]) -> None:
        self._undo.append((what, undo))

    def run(self) -> None:
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except Exception as error:  # noqa: BLE001 - keep cleaning the rest
                log(f"cleanup of {what} failed: {error}")


def stop_group(process: subprocess.Popen[Any], grace: float = 8.0) -> None:
    """SIGTERM the process group we started (the process is its leader), SIGKILL if it lingers."""
    if process.poll() is not None and not _group_alive(process.pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if process.poll() is not None and not _group_alive(process.pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_group(
    cleanup: Cleanup, what: str, args: Sequence[str], *, env: dict[str, str], cwd: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    """A long-running process in a session of its own (so that its workers die with it)."""
    output = log_path.open("wb")
    process = subprocess.Popen(
        list(args), env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    output.close()
    cleanup.add(what, lambda: stop_group(process))
    return process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


def http(
    method: str, url: str, *, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request (for setup and checks, not for measuring): status and decoded JSON body."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"loopback only: {url}")
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _OPENER.open(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[Any], what: str, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}):\n{tail(log_path)}")
        with contextlib.suppress(OSError):
            if ready():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start within 90 s:\n{tail(log_path)}")


def check_tools(servers: Sequence[str], db: str) -> None:
    """Every program the run needs, or how to install it."""
    needed = {"wrk": "apt-get install wrk"}
    if "node" in servers:
        needed |= {
            "node": "apt-get install nodejs",
            "npm": "apt-get install npm",
            "redis-server": "apt-get install redis-server",
        }
    missing = [f"{tool} ({how})" for tool, how in needed.items() if shutil.which(tool) is None]
    if "sesame" in servers and not SESAME.exists():
        missing.append(f"{SESAME} (make install)")
    if "sesame" in servers and db == "postgresql" and not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        missing.append("PostgreSQL (apt-get install postgresql, or scripts/system-deps.sh)")
    if missing:
        raise SystemExit("missing: " + "; ".join(missing))


# -- the servers ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Target:
    """One server under test: where its endpoints are and how its client authenticates."""

    name: str
    base: str  # issuer URL
    paths: dict[str, str]
    authorization: str
    #: userinfo/introspection material, made by ``prepare_tokens``.
    access_token: str = ""
    refresh_token: str = ""

    def url(self, endpoint: str) -> str:
        return self.base + self.paths[endpoint]


class SesameServer:
    """``sesame serve`` on a fresh database, with a tenant, a confidential client and an account;
    codes and refresh tokens are written through Sésame's own repositories."""

    def __init__(self, cleanup: Cleanup, root: Path, *, workers: int, db: str, log_level: str) -> None:
        self.cleanup, self.root, self.workers = cleanup, root / "sesame", workers
        self.root.mkdir()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SESAME_")},
            "SESAME_VAR_DIR": str(self.root / "var"),
            "SESAME_BASE_URL": self.base_url,
            "SESAME_SECRET_KEY": secrets.token_urlsafe(48),
            "SESAME_LOG_LEVEL": log_level,
        }
        if db == "postgresql":
            self.env["SESAME_DATABASE_URL"] = self._start_postgres()
        self.client_id = self.client_secret = ""
        self.account_id = 0
        self._container: Any = None

    def _start_postgres(self) -> str:
        services = Path(tempfile.mkdtemp(prefix="sesame-bench-pg-"))
        services.chmod(0o755)  # the postgres system user must reach it when we are root
        folder = services / "services"
        self.cleanup.add("PostgreSQL", lambda: _stop_services(folder, services))
        log("starting a throwaway PostgreSQL cluster (scripts/services.sh)")
        started = subprocess.run(
            [str(ROOT / "scripts" / "services.sh"), "start", str(folder)],
            check=True,
            capture_output=True,
            text=True,
        )
        for line in started.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            if name == "SESAME_TEST_POSTGRES_URL":
                return value
        raise RuntimeError("scripts/services.sh printed no PostgreSQL URL")

    def _cli(self, *args: str) -> Any:
        done = subprocess.run(
            [str(SESAME), *args], env=self.env, cwd=self.root, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"sesame {' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout) if "--json" in args else done.stdout

    def start(self) -> Target:
        log("Sésame: migrating a fresh database, creating the tenant, account and client")
        self._cli("db", "upgrade")
        self._cli("tenant", "create", TENANT, "--name", "Bench", "--json")
        account = self._cli(
            "user", "create", "--tenant", TENANT, "--email", PERSON["email"], "--password", BENCH_PASSWORD,
            "--given-name", PERSON["given_name"], "--family-name", PERSON["family_name"], "--verified", "--json",
        )  # fmt: skip
        self.account_id = int(account["id"])
        out = self._cli(
            "client", "create", "--tenant", TENANT, "--name", "Bench", "--redirect-uri", REDIRECT_URI,
            "--grant", "client_credentials", "--grant", "authorization_code", "--grant", "refresh_token",
            "--scope", "openid", "--scope", "profile", "--scope", "email", "--scope", "offline_access",
            "--skip-consent",
        )  # fmt: skip
        client = json.loads(out[out.index("{") : out.rindex("}") + 1])
        self.client_id, self.client_secret = client["client_id"], client["client_secret"]
        log(f"Sésame: sesame serve --workers {self.workers} on {self.base_url}")
        log_path = self.root / "serve.log"
        process = start_group(
            self.cleanup,
            "sesame serve",
            [str(SESAME), "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env,
            cwd=self.root,
            log_path=log_path,
        )
        target = Target(
            name="sesame",
            base=f"{self.base_url}/{TENANT}",
            paths={
                "discovery": "/.well-known/openid-configuration",
                "jwks": "/jwks",
                "token": "/token",
                "introspection": "/introspect",
                "userinfo": "/userinfo",
            },
            authorization=basic_authorization(self.client_id, self.client_secret),
        )
        wait_until(lambda: http("GET", target.url("discovery"))[0] == 200, process, "sesame serve", log_path)
        return target

    @property
    def container(self) -> Any:
        """Sésame's container in this process, on the server's database (for the seeding)."""
        if self._container is None:
            from sesame.bootstrap import build_container
            from sesame.config import Settings

            settings = Settings(
                var_dir=Path(self.env["SESAME_VAR_DIR"]),
                database_url=self.env.get("SESAME_DATABASE_URL", ""),
                base_url=self.base_url,
                secret_key=self.env["SESAME_SECRET_KEY"],
                log_level="warning",
            )
            self._container = build_container(settings)
            self.cleanup.add("Sésame container", self._container.close)
        return self._container

    def seed(self, kind: str, count: int, path: Path) -> None:
        """``count`` authorization codes (online grants of a fresh browser session, PKCE S256) or
        refresh tokens (offline grants), one grant each, as the authorization flow writes them."""
        from sesame.flows.authorization.steps import grant_expiry
        from sesame.oidc.models import AuthorizationCode, Grant, RefreshToken
        from sesame.oidc.token.pkce import s256_challenge
        from sesame.oidc.tokens import hash_token, new_token
        from sesame.services.sessions import SessionService

        container = self.container
        tenant = container.tenants.get(TENANT)
        now = container.clock.now()
        lines = []
        with container.uow() as uow:
            client = uow.oidc.get_client(self.client_id)
            account = uow.accounts.get(self.account_id)
            session = SessionService.open(
                uow, account, tenant, now, acr="eidas1", amr=["pwd"], ip="127.0.0.1", user_agent="bench/oidc.py"
            ).session
            offline = kind == "refresh"
            for _ in range(count):
                grant = Grant(
                    id=secrets.token_urlsafe(24),
                    tenant_id=tenant.id,
                    client_id=self.client_id,
                    scope="openid profile email offline_access" if offline else "openid profile email",
                    created_at=now,
                    expires_at=grant_expiry(client, session, offline=offline, now=now),
                    account_id=account.id,
                    session_id=None if offline else session.id,
                    acr=session.acr,
                    amr=list(session.amr),
                    auth_time=session.auth_time,
                    nonce=None if offline else secrets.token_urlsafe(16),
                )
                uow.oidc.add_grant(grant)
                value = new_token()
                if offline:
                    lifetime = timedelta(seconds=client.metadata.refresh_token_lifetime_seconds)
                    uow.oidc.add_refresh_token(
                        RefreshToken(
                            token_hash=hash_token(value),
                            grant_id=grant.id,
                            client_id=self.client_id,
                            created_at=now,
                            expires_at=min(now + lifetime, grant.expires_at),
                        )
                    )
                    lines.append(value)
                else:
                    verifier = secrets.token_urlsafe(32)
                    uow.oidc.add_code(
                        AuthorizationCode(
                            code_hash=hash_token(value),
                            grant_id=grant.id,
                            client_id=self.client_id,
                            redirect_uri=REDIRECT_URI,
                            created_at=now,
                            expires_at=now + CODE_LIFETIME,
                            code_challenge=s256_challenge(verifier),
                            code_challenge_method="S256",
                        )
                    )
                    lines.append(f"{value}\t{verifier}")
            uow.commit()
        path.write_text("\n".join(lines) + "\n")

    def prepare_tokens(self, target: Target) -> None:
        """A JWT access token and a live refresh token, from a real refresh_token exchange."""
        path = self.root / "one-refresh.txt"
        self.seed("refresh", 1, path)
        status, body = http(
            "POST",
            target.url("token"),
            form={"grant_type": "refresh_token", "refresh_token": path.read_text().strip()},
            headers={"Authorization": target.authorization},
        )
        if status != 200:
            raise RuntimeError(f"Sésame refused the refresh exchange of the setup: {status} {body}")
        target.access_token, target.refresh_token = body["access_token"], body["refresh_token"]


def _stop_services(folder: Path, services: Path) -> None:
    if folder.exists():
        subprocess.run([str(ROOT / "scripts" / "services.sh"), "stop", str(folder)], check=False, capture_output=True)
    shutil.rmtree(services, ignore_errors=True)


class NodeServer:
    """panva's oidc-provider, installed into the temporary folder, under node:cluster, on Redis."""

    def __init__(self, cleanup: Cleanup, root: Path, *, workers: int) -> None:
        self.cleanup, self.root, self.workers = cleanup, root / "node", workers
        self.root.mkdir()
        self.port = free_port()
        self.redis_port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id, self.client_secret = "bench-client", secrets.token_urlsafe(32)
        self.env = {
            **os.environ,
            "NODE_ENV": "production",
            "PEER_CONFIG": str(self.root / "config.json"),
            "PEER_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "PEER_PORT": str(self.port),
            "PEER_WORKERS": str(workers),
        }
        self.version = ""

    def install(self) -> None:
        log(f"Node: npm install {' '.join(NPM_PACKAGES)} into {self.root}")
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *NPM_PACKAGES],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm install failed:\n{done.stderr[-3000:]}")
        package = json.loads((self.root / "node_modules" / "oidc-provider" / "package.json").read_text())
        self.version = package["version"]
        for script in PEER_DIR.glob("*.mjs"):
            shutil.copy(script, self.root / script.name)

    def _write_config(self) -> None:
        from joserfc.jwk import ECKey

        key = ECKey.generate_key("P-256", private=True)
        jwk = {**key.as_dict(private=True), "kid": key.thumbprint(), "alg": "ES256", "use": "sig"}
        config = {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uri": REDIRECT_URI,
            "resource": RESOURCE,
            "jwk": jwk,
            "cookie_key": secrets.token_urlsafe(32),
            "pairwise_salt": secrets.token_urlsafe(32),
            "account_id": "bench-account-1",
            "person": PERSON,
        }
        path = self.root / "config.json"
        path.write_text(json.dumps(config))
        path.chmod(0o600)

    def start(self) -> Target:
        self.install()
        self._write_config()
        log(f"Node: redis-server on 127.0.0.1:{self.redis_port}")
        redis_log = self.root / "redis.log"
        redis = start_group(
            self.cleanup,
            "redis-server",
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            env=dict(os.environ),
            cwd=self.root,
            log_path=redis_log,
        )
        wait_until(lambda: _redis_ping(self.redis_port), redis, "redis-server", redis_log)
        self._node("seed.mjs", "account")
        log(f"Node: oidc-provider {self.version} under node:cluster, {self.workers} workers, on {self.issuer}")
        log_path = self.root / "server.log"
        process = start_group(
            self.cleanup, "node server.mjs", ["node", "server.mjs"], env=self.env, cwd=self.root, log_path=log_path
        )
        wait_until(lambda: f"ready {self.workers}" in log_path.read_text(), process, "node server.mjs", log_path)
        return Target(
            name="node",
            base=self.issuer,
            paths={
                "discovery": "/.well-known/openid-configuration",
                "jwks": "/jwks",
                "token": "/token",
                "introspection": "/token/introspection",
                "userinfo": "/me",
            },
            authorization=basic_authorization(self.client_id, self.client_secret),
        )

    def _node(self, *args: str) -> None:
        done = subprocess.run(["node", *args], cwd=self.root, env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"node {' '.join(args)} failed:\n{done.stderr[-3000:]}")

    def seed(self, kind: str, count: int, path: Path) -> None:
        self._node("seed.mjs", "codes" if kind == "code" else "refresh", str(count), str(path))

    def prepare_tokens(self, target: Target) -> None:
        """oidc-provider's userinfo and introspection accept only its opaque access tokens (its JWT
        ones are for resource servers): one is made through its AccessToken model."""
        path = self.root / "access.json"
        self._node("seed.mjs", "access", str(path))
        made = json.loads(path.read_text())
        target.access_token, target.refresh_token = made["access_token"], made["refresh_token"]


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


# -- the requests -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """One endpoint's request for wrk: method, URL, body (template), headers, consumables file."""

    method: str
    url: str
    body: str | None
    headers: tuple[str, ...]
    consumables: Path | None = None


FORM_HEADER = "Content-Type: application/x-www-form-urlencoded"


def plan_for(endpoint: str, target: Target, consumables: Path | None = None) -> Plan:
    auth = f"Authorization: {target.authorization}"
    if endpoint in ("discovery", "jwks"):
        return Plan("GET", target.url(endpoint), None, ())
    if endpoint == "token_cc":
        return Plan("POST", target.url("token"), "grant_type=client_credentials", (FORM_HEADER, auth))
    if endpoint == "token_refresh":
        return Plan(
            "POST", target.url("token"), "grant_type=refresh_token&refresh_token={1}", (FORM_HEADER, auth), consumables
        )
    if endpoint == "token_code":
        redirect = urllib.parse.quote(REDIRECT_URI, safe="")
        body = f"grant_type=authorization_code&code={{1}}&code_verifier={{2}}&redirect_uri={redirect}"
        return Plan("POST", target.url("token"), body, (FORM_HEADER, auth), consumables)
    if endpoint == "introspect_rt":
        return Plan("POST", target.url("introspection"), f"token={target.refresh_token}", (FORM_HEADER, auth))
    if endpoint == "introspect_at":
        return Plan("POST", target.url("introspection"), f"token={target.access_token}", (FORM_HEADER, auth))
    if endpoint == "userinfo":
        return Plan("GET", target.url("userinfo"), None, (f"Authorization: Bearer {target.access_token}",))
    raise ValueError(f"unknown endpoint {endpoint}")


def check_response(endpoint: str, status: int, body: Any) -> str | None:
    """What is wrong with one answer of ``endpoint`` (None: it is right)."""
    if status != 200:
        return f"HTTP {status}: {str(body)[:300]}"
    if not isinstance(body, dict):
        return f"not a JSON object: {str(body)[:300]}"
    expected = {
        "discovery": ("issuer", "token_endpoint", "jwks_uri"),
        "jwks": ("keys",),
        "token_cc": ("access_token",),
        "token_refresh": ("access_token", "refresh_token", "id_token"),
        "token_code": ("access_token", "refresh_token", "id_token"),
        "introspect_rt": ("active", "client_id"),
        "introspect_at": ("active", "client_id"),
        "userinfo": ("sub", "email"),
    }[endpoint]
    missing = [name for name in expected if name not in body]
    if missing:
        return f"missing {', '.join(missing)}: {str(body)[:300]}"
    if endpoint.startswith("introspect") and body["active"] is not True:
        return f"token not active: {body}"
    return None


def check_once(endpoint: str, target: Target, plan: Plan) -> None:
    """One request like the run's, checked for content (wrk only sees status codes)."""
    body = plan.body
    if plan.consumables is not None and body is not None:
        first, _, rest = plan.consumables.read_text().partition("\n")
        fields = first.split("\t")
        for index, value in enumerate(fields, start=1):
            body = body.replace(f"{{{index}}}", value)
        plan.consumables.write_text(rest)  # that one is spent
    headers = dict(header.split(": ", 1) for header in plan.headers)
    form = dict(urllib.parse.parse_qsl(body)) if body is not None else None
    status, answer = http(plan.method, plan.url, form=form, headers=headers)
    problem = check_response(endpoint, status, answer)
    if problem is not None:
        raise RuntimeError(f"{LABELS[target.name]} {endpoint}: {problem}")


def run_wrk(plan: Plan, *, connections: int, threads: int, seconds: int) -> WrkResult:
    threads = max(1, min(threads, connections))
    command = [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
        "-s", str(LUA_SCRIPT), plan.url, "--",
        plan.method, plan.body if plan.body is not None else "-",
        str(plan.consumables) if plan.consumables is not None else "-", str(threads), *plan.headers,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stderr[-2000:]}{done.stdout[-2000:]}")
    return parse_wrk_output(done.stdout)


# -- the run ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Bench:
    targets: dict[str, Target]
    seeders: dict[str, SesameServer | NodeServer]
    work: Path
    seconds: int
    threads: int
    headroom: float = 1.5
    rows: list[Row] = field(default_factory=list)

    def rate_hint(self, endpoint: str, server: str, connections: int) -> float:
        """What rate to make codes for: client_credentials' at this concurrency (the cheapest
        grant), but at most 4 times what this endpoint reached at a lower concurrency (a single
        connection keeps at most one worker busy); without either, the best rate seen."""
        cc = same = None
        for row in self.rows:
            result = row.results.get(server)
            if result is None or result.problems:
                continue
            if row.endpoint == "token_cc" and row.connections == connections:
                cc = result.rate
            if row.endpoint == endpoint:
                same = max(same or 0.0, result.rate)
        if cc is not None and same is not None:
            return min(cc, 4 * same)
        if cc is not None or same is not None:
            return cc if cc is not None else 4 * (same or 0.0)
        seen = [r.rate for row in self.rows if (r := row.results.get(server)) is not None]
        return max(seen, default=FALLBACK_RATE)

    def measure(self, endpoint: str, connections: int, server: str) -> WrkResult:
        target = self.targets[server]
        consumables = None
        if endpoint in CONSUMING:
            kind = "code" if endpoint == "token_code" else "refresh"
            kind_label = "codes" if kind == "code" else "refresh tokens"
            count = consumables_needed(
                self.rate_hint(endpoint, server, connections), self.seconds, connections, headroom=self.headroom
            )
            consumables = self.work / f"{server}-{kind}-{connections}.txt"
            started = time.monotonic()
            self.seeders[server].seed(kind, count, consumables)
            log(f"  {LABELS[server]}: {count} {kind_label} made in {time.monotonic() - started:.1f} s")
        plan = plan_for(endpoint, target, consumables)
        check_once(endpoint, target, plan)
        result = run_wrk(plan, connections=connections, threads=self.threads, seconds=self.seconds)
        status = f" [{', '.join(result.problems)}]" if result.problems else ""
        log(
            f"  {LABELS[server]:6} {endpoint} x{connections}: {result.rate:,.0f} req/s, "
            f"p50 {result.latency_p50_us / 1000:.2f} ms, p99 {result.latency_p99_us / 1000:.2f} ms{status}"
        )
        if consumables is not None:
            consumables.unlink(missing_ok=True)
        return result

    def warm_up(self, seconds: int) -> None:
        for server, target in self.targets.items():
            for endpoint in ("discovery", "jwks", "token_cc"):
                run_wrk(plan_for(endpoint, target), connections=8, threads=1, seconds=seconds)
            log(f"warmed up {LABELS[server]}")

    def run(self, endpoints: Sequence[str], connections: Sequence[int]) -> None:
        for endpoint in endpoints:
            if endpoint in ("introspect_rt", "introspect_at", "userinfo"):
                # fresh ones for each endpoint: an access token lives 10 minutes on both servers
                for server, target in self.targets.items():
                    self.seeders[server].prepare_tokens(target)
            log(f"{endpoint}: {ENDPOINTS[endpoint]}")
            for count in connections:
                row = Row(endpoint, count)
                self.rows.append(row)
                # one server after the other for each cell: both see the same machine's noise
                for server in self.targets:
                    row.results[server] = self.measure(endpoint, count, server)


def _git_revision() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _node_version() -> str:
    if shutil.which("node") is None:
        return ""
    return subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()


def report(bench: Bench, args: argparse.Namespace, node_version: str) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "sesame": {"git": _git_revision(), "db": args.db, "workers": args.workers, "log_level": args.sesame_log_level},
        "node": {"version": _node_version(), "oidc_provider": node_version, "workers": args.workers},
        "duration_s": args.duration,
        "wrk_threads": args.threads,
        "results": [
            {
                "endpoint": row.endpoint,
                "connections": row.connections,
                "ratio_sesame_node": ratio(row),
                **{
                    server: ({**asdict(result), "rate": result.rate, "problems": result.problems} if result else None)
                    for server, result in row.results.items()
                },
            }
            for row in bench.rows
        ],
    }


def preamble(args: argparse.Namespace, node_version: str) -> str:
    sides = []
    if "sesame" in args.server_list:
        sides.append(
            f"Sésame (git {_git_revision() or '?'}, {args.db}, {args.workers} workers, log {args.sesame_log_level})"
        )
    if "node" in args.server_list:
        sides.append(
            f"oidc-provider {node_version} (Node {_node_version()}, node:cluster, {args.workers} workers, Redis)"
        )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{' vs '.join(sides)}; wrk {args.threads} thread(s), {args.duration} s per run, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average at the end {load}"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (1 to 60; default 5)")
    parser.add_argument("--connections", default="1,16,64", help="concurrencies, comma-separated (default 1,16,64)")
    parser.add_argument(
        "--endpoints", default=",".join(ENDPOINTS), help=f"comma-separated subset of: {', '.join(ENDPOINTS)}"
    )
    parser.add_argument("--servers", default="sesame,node", help="sesame, node or both (default)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes per server")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (at most one per connection; default 1)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per server and static endpoint")
    parser.add_argument(
        "--headroom",
        type=float,
        default=1.5,
        help="codes/refresh tokens made per run, as a multiple of the client_credentials rate x duration",
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite", help="Sésame's database")
    parser.add_argument(
        "--sesame-log-level",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="SESAME_LOG_LEVEL of the server (default info, production's: one access log line per request)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temporary folder (logs) for inspection")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"--duration must be between 1 and {MAX_DURATION} seconds")
    try:
        args.connection_list = parse_connections(args.connections)
    except ValueError as error:
        parser.error(str(error))
    args.endpoint_list = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    unknown = set(args.endpoint_list) - set(ENDPOINTS)
    if unknown:
        parser.error(f"unknown endpoints: {', '.join(sorted(unknown))}")
    args.endpoint_list = [e for e in ENDPOINTS if e in args.endpoint_list]  # always in the planned order
    args.server_list = [s for s in SERVERS if s in {p.strip() for p in args.servers.split(",")}]
    if not args.server_list:
        parser.error("--servers: sesame, node or both")
    if args.workers < 1 or args.threads < 1:
        parser.error("--workers and --threads must be at least 1")
    return args


@contextlib.contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM cleans up like Ctrl-C does; and Ctrl-C works even if the shell that started us
    in the background had SIGINT ignored."""

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools(args.server_list, args.db)
    cleanup = Cleanup()
    work = Path(tempfile.mkdtemp(prefix="sesame-bench-oidc-"))
    if args.keep_temp:
        log(f"temporary folder kept: {work}")
    else:
        cleanup.add("temporary folder", lambda: shutil.rmtree(work, ignore_errors=True))
    node_version = ""
    code = 0
    with terminated_as_interrupt():
        try:
            targets: dict[str, Target] = {}
            seeders: dict[str, SesameServer | NodeServer] = {}
            if "sesame" in args.server_list:
                sesame = SesameServer(cleanup, work, workers=args.workers, db=args.db, log_level=args.sesame_log_level)
                targets["sesame"], seeders["sesame"] = sesame.start(), sesame
            if "node" in args.server_list:
                node = NodeServer(cleanup, work, workers=args.workers)
                targets["node"], seeders["node"] = node.start(), node
                node_version = node.version
            bench = Bench(targets, seeders, work, args.duration, args.threads, headroom=args.headroom)
            if args.warmup > 0:
                bench.warm_up(args.warmup)
            try:
                bench.run(args.endpoint_list, args.connection_list)
            finally:
                if bench.rows:
                    print(preamble(args, node_version))
                    print(format_table(bench.rows))
                    if args.json is not None:
                        args.json.write_text(json.dumps(report(bench, args, node_version), indent=2) + "\n")
                        log(f"results written to {args.json}")
            if any(r is not None and r.problems for row in bench.rows for r in row.results.values()):
                log("some runs had errors: their figures are flagged with ! above")
                code = 2
        except KeyboardInterrupt:
            log("interrupted: cleaning up")
            code = 130
        except (RuntimeError, subprocess.CalledProcessError) as error:
            log(f"failed: {error}")
            code = 1
        finally:
            # a second Ctrl-C must not leave servers behind
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            cleanup.run()
    return code


if __name__ == "__main__":
    sys.exit(main())
