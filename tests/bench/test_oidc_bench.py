"""bench/oidc.py's own logic: reading wrk's figures, the table, the requests it plans, and the wrk
script that hands out each pre-generated code once (run with wrk against a local server).

The benchmark itself (two servers, minutes of load) is not run here.
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bench.oidc import (
    FALLBACK_RATE,
    Bench,
    Plan,
    Row,
    Target,
    WrkResult,
    basic_authorization,
    check_response,
    consumables_needed,
    format_table,
    parse_connections,
    parse_wrk_output,
    plan_for,
    ratio,
    run_wrk,
)


def result(**changes: int | float) -> WrkResult:
    figures: dict[str, int | float] = {
        "requests": 5000,
        "duration_us": 5_000_000,
        "bytes": 1_000_000,
        "connect_errors": 0,
        "read_errors": 0,
        "write_errors": 0,
        "status_errors": 0,
        "timeouts": 0,
        "latency_mean_us": 1500.0,
        "latency_p50_us": 1200,
        "latency_p90_us": 2500,
        "latency_p99_us": 4800,
        "latency_max_us": 9000,
    }
    figures.update(changes)
    return WrkResult(**figures)  # type: ignore[arg-type]


WRK_STDOUT = """Running 5s test @ http://127.0.0.1:8000/bench/token
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.91ms    2.10ms  40.00ms   90.00%
  16250 requests in 5.00s, 9.20MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   3250.00
Transfer/sec:      1.84MB
@@wrk {"requests": 16250, "duration_us": 5000000, "bytes": 9646899, "connect_errors": 0, "read_errors": 0, \
"write_errors": 0, "status_errors": 3, "timeouts": 0, "latency_mean_us": 4910.5, "latency_p50_us": 4500, \
"latency_p90_us": 7000, "latency_p99_us": 12000, "latency_max_us": 40000, "consumed": 16260, "exhausted_threads": 0}
"""


def test_parse_wrk_output_reads_the_json_line_and_counts_non_2xx_as_problems() -> None:
    parsed = parse_wrk_output(WRK_STDOUT)

    assert parsed.requests == 16250
    assert parsed.rate == pytest.approx(3250.0)
    assert (parsed.latency_p50_us, parsed.latency_p99_us) == (4500, 12000)
    assert parsed.consumed == 16260
    assert parsed.problems == ["3 non-2xx"]


def test_parse_wrk_output_without_the_line_is_an_error() -> None:
    with pytest.raises(ValueError, match="no @@wrk line"):
        parse_wrk_output("Running 5s test @ http://127.0.0.1:8000/\nPANIC: unprotected error in call to Lua API\n")


def test_problems_name_socket_errors_exhaustion_and_empty_runs() -> None:
    assert result().problems == []
    assert result(read_errors=2, timeouts=1).problems == ["3 socket errors"]
    assert result(exhausted_threads=1).problems == ["ran out of pre-generated codes/tokens"]
    assert result(requests=0).problems == ["no request completed"]


def test_parse_connections_sorts_dedupes_and_bounds() -> None:
    assert parse_connections("64, 1,16,16") == [1, 16, 64]
    for bad in ("", "0,4", "2000"):
        with pytest.raises(ValueError, match="between 1 and 1024"):
            parse_connections(bad)


def test_consumables_needed_covers_the_run_with_headroom() -> None:
    assert consumables_needed(1000, 5, 16) == 7500 + 128 + 100
    assert consumables_needed(0, 5, 1) == 8 + 100 + 8  # a rate of at least 1/s
    assert consumables_needed(1000, 5, 16, headroom=1.0) == 5000 + 128 + 100


def test_codes_are_made_for_the_client_credentials_rate_capped_by_the_endpoint_own(tmp_path: Path) -> None:
    bench = Bench(targets={}, seeders={}, work=tmp_path, seconds=5, threads=1)
    assert bench.rate_hint("token_code", "sesame", 1) == FALLBACK_RATE  # nothing measured yet

    bench.rows.append(Row("token_cc", 1, {"sesame": result(requests=1000)}))  # 200/s
    bench.rows.append(Row("token_cc", 16, {"sesame": result(requests=20_000)}))  # 4000/s
    assert bench.rate_hint("token_code", "sesame", 1) == pytest.approx(200)

    bench.rows.append(Row("token_code", 1, {"sesame": result(requests=500)}))  # 100/s
    assert bench.rate_hint("token_code", "sesame", 16) == pytest.approx(400)  # not 4000
    assert bench.rate_hint("token_refresh", "sesame", 16) == pytest.approx(4000)
    # a run with errors says nothing reliable about the rate
    bench.rows.append(Row("token_refresh", 1, {"sesame": result(requests=50, status_errors=50)}))
    assert bench.rate_hint("token_refresh", "sesame", 16) == pytest.approx(4000)


def test_table_shows_ratio_and_flags_runs_with_errors() -> None:
    fast, slow = result(requests=10_000), result(requests=5000, status_errors=7)
    rows = [Row("token_cc", 16, {"sesame": fast, "node": slow}), Row("jwks", 1, {"sesame": fast, "node": None})]

    table = format_table(rows)

    assert ratio(rows[0]) == pytest.approx(2.0)
    assert ratio(rows[1]) is None
    line = next(line for line in table.splitlines() if line.startswith("token_cc"))
    assert "2,000 " in line  # Sésame: 10,000 requests in 5 s, no flag
    assert "1,000!" in line  # Node: flagged
    assert line.rstrip().endswith("2.00")
    assert [line for line in table.splitlines() if line.startswith("! ")] == ["! token_cc x16 Node: 7 non-2xx"]


def test_basic_authorization_form_encodes_both_parts() -> None:
    header = basic_authorization("client:1", "s3cr+t/=")
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == "client%3A1:s3cr%2Bt%2F%3D"


TARGET = Target(
    name="sesame",
    base="http://127.0.0.1:8000/bench",
    paths={
        "discovery": "/.well-known/openid-configuration",
        "jwks": "/jwks",
        "token": "/token",
        "introspection": "/introspect",
        "userinfo": "/userinfo",
    },
    authorization="Basic Y2xpZW50OnNlY3JldA==",
    access_token="eyJ.a.b",
    refresh_token="rt-1",
)


def test_plans_authenticate_clients_and_template_the_consumed_fields(tmp_path: Path) -> None:
    codes = tmp_path / "codes.txt"

    code = plan_for("token_code", TARGET, codes)
    userinfo = plan_for("userinfo", TARGET)
    introspect = plan_for("introspect_at", TARGET)

    assert code.url == "http://127.0.0.1:8000/bench/token"
    assert code.consumables == codes
    assert code.body == (
        "grant_type=authorization_code&code={1}&code_verifier={2}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
    )
    assert "Authorization: Basic Y2xpZW50OnNlY3JldA==" in code.headers
    assert userinfo.headers == ("Authorization: Bearer eyJ.a.b",)
    assert (introspect.url, introspect.body) == ("http://127.0.0.1:8000/bench/introspect", "token=eyJ.a.b")


def test_check_response_wants_200_and_the_endpoint_fields() -> None:
    assert check_response("token_code", 200, {"access_token": "a", "refresh_token": "r", "id_token": "i"}) is None
    assert "missing id_token" in str(check_response("token_refresh", 200, {"access_token": "a", "refresh_token": "r"}))
    assert "HTTP 400" in str(check_response("token_cc", 400, {"error": "invalid_grant"}))
    assert "not active" in str(check_response("introspect_rt", 200, {"active": False, "client_id": "c"}))


# -- request.lua, driven by the real wrk ------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: list[dict[str, list[str]]]
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        with self.lock:
            self.bodies.append({**parse_qs(body), "auth": [self.headers.get("Authorization", "")]})
        answer = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    bodies: list[dict[str, list[str]]] = []
    handler = type("Handler", (_Recorder,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token", bodies
    finally:
        server.shutdown()
        server.server_close()


def _consume(url: str, codes: Path, threads: int) -> WrkResult:
    plan = Plan(
        "POST",
        url,
        "grant_type=authorization_code&code={1}&code_verifier={2}",
        ("Content-Type: application/x-www-form-urlencoded", "Authorization: Basic abc="),
        codes,
    )
    return run_wrk(plan, connections=4, threads=threads, seconds=1)


def test_request_lua_spends_each_code_at_most_once_across_threads(
    recorder: tuple[str, list[dict[str, list[str]]]], tmp_path: Path
) -> None:
    url, bodies = recorder
    codes = tmp_path / "codes.txt"
    lines = [(f"code-{i}", f"verifier-{i}") for i in range(200_000)]
    codes.write_text("\n".join(f"{code}\t{verifier}" for code, verifier in lines) + "\n")

    figures = _consume(url, codes, threads=2)

    sent = [(body["code"][0], body["code_verifier"][0]) for body in bodies]
    assert figures.requests > 0 and figures.problems == []
    assert len(sent) == len(set(sent)) >= figures.requests  # never the same code twice
    assert set(sent) <= set(lines)  # each with its own verifier
    assert {body["auth"][0] for body in bodies} == {"Basic abc="}
    assert figures.consumed >= len(sent)


def test_request_lua_reports_running_out_instead_of_replaying(
    recorder: tuple[str, list[dict[str, list[str]]]], tmp_path: Path
) -> None:
    url, bodies = recorder
    codes = tmp_path / "codes.txt"
    codes.write_text("".join(f"code-{i}\tverifier-{i}\n" for i in range(20)))

    figures = _consume(url, codes, threads=1)

    real = [body["code"][0] for body in bodies if body["code"][0] != "exhausted"]
    assert len(real) == len(set(real)) <= 20
    assert "ran out of pre-generated codes/tokens" in figures.problems
