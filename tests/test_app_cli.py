"""``sesame-app`` against a live server (uvicorn on 127.0.0.1): activation with the password, the
SMS code and a 4-digit code typed at the prompts, then listing, approving and refusing requests.

The command runs as a separate process (``python -m sesame.app_cli``, what the console script
calls), reading its answers from stdin as a person would type them.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sesame.domain.devices import ApprovalKind, ApprovalRequest, ApprovalStatus, DeviceStatus
from sesame.domain.tenants import Tenant
from sesame.services.approvals import NewApproval
from tests.app_support import (
    CTX,
    MOBILE,
    PASSWORD,
    PIN,
    LiveServer,
    identity_of,
    live_server,
    sms_codes,
    verified_account,
)

EMAIL = "marie.cli@example.fr"
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("app-cli")) as running:
        yield running


@pytest.fixture(scope="module")
def tenant(server: LiveServer) -> Tenant:
    tenant = server.container.tenants.get("laposte")
    verified_account(server.container, tenant, EMAIL)
    return tenant


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sesame-app-state") / "device"


def run(state_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sesame.app_cli", *args, "--state-dir", str(state_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "LANG": "fr_FR.UTF-8"},
        timeout=TIMEOUT,
        start_new_session=True,  # no terminal: the hidden prompts read stdin
        check=False,
    )


def new_request(server: LiveServer, tenant: Tenant, handle: str) -> ApprovalRequest:
    new = NewApproval(kind=ApprovalKind.WEB_LOGIN, service_name="La Poste", handle=handle)
    return server.container.approvals.create_request(tenant, new, CTX, mobile=MOBILE).request


def status(server: LiveServer, tenant: Tenant, request: ApprovalRequest, handle: str) -> ApprovalStatus:
    polled = server.container.approvals.poll(tenant, request.id, handle)
    assert polled is not None
    return polled.status


@pytest.fixture(scope="module")
def activated(server: LiveServer, tenant: Tenant, state_dir: Path) -> dict[str, str]:
    """``sesame-app activate``, typing the password, then the SMS code once it has arrived."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sesame.app_cli",
            "activate",
            "--server",
            server.base_url,
            "--tenant",
            "laposte",
            "--email",
            EMAIL,
            "--label",
            "Terminal de Marie",
            "--state-dir",
            str(state_dir),
            "--json",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    assert process.stdin is not None
    process.stdin.write(PASSWORD + "\n")
    process.stdin.flush()
    deadline = time.monotonic() + TIMEOUT
    while not sms_codes(server.container):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no SMS code was sent"
        time.sleep(0.1)
    typed = f"{sms_codes(server.container)[0]}\n1234\n1234\n{PIN}\n{PIN}\n"  # 1234 is refused: asked again
    out, err = process.communicate(typed, timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert "trop facile" in err, "the server's refusal of 1234, in French"
    return dict(json.loads(out))


def test_activation_keeps_the_key_private(
    server: LiveServer, tenant: Tenant, state_dir: Path, activated: dict[str, str]
) -> None:
    assert activated["device_id"].startswith("dv_") and activated["tenant"] == "laposte"
    assert activated["label"] == "Terminal de Marie"
    key = state_dir / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert b"PRIVATE KEY" in key.read_bytes()
    saved = json.loads((state_dir / "device.json").read_text())
    assert saved == {
        "server": server.base_url,
        "tenant": "laposte",
        "device_id": activated["device_id"],
        "label": "Terminal de Marie",
    }
    account = server.container.accounts.find(tenant, EMAIL)
    identity = identity_of(server.container, account.id)
    assert identity is not None and identity.usable_for_eidas2
    [device] = server.container.devices.devices_of(account.id)
    assert device.status is DeviceStatus.ACTIVE and device.id == activated["device_id"]


def test_pending_approve_and_deny(
    server: LiveServer, tenant: Tenant, state_dir: Path, activated: dict[str, str]
) -> None:
    first = new_request(server, tenant, "cli-browser-1-0123456789")
    listed = run(state_dir, "pending", "--json")
    assert listed.returncode == 0, listed.stderr
    [item] = json.loads(listed.stdout)["requests"]
    assert item["request_id"] == first.id and item["service"] == "La Poste"
    assert item["binding_mode"] == "enter" and item["binding_message"] is None

    wrong_pin = run(state_dir, "approve", first.id, "--binding", first.binding_code, "--json", stdin="9513\n")
    assert wrong_pin.returncode == 1
    assert json.loads(wrong_pin.stdout) == {
        "error": "wrong_pin",
        "message": "Code secret incorrect.",
        "remaining": 9,
    }
    approved = run(state_dir, "approve", first.id, "--binding", first.binding_code, "--json", stdin=f"{PIN}\n")
    assert approved.returncode == 0, approved.stderr
    assert json.loads(approved.stdout)["status"] == "approved"
    assert status(server, tenant, first, "cli-browser-1-0123456789") is ApprovalStatus.APPROVED

    again = run(state_dir, "approve", first.id, "--binding", first.binding_code, stdin=f"{PIN}\n")
    assert again.returncode == 1 and "not_pending" in again.stderr

    second = new_request(server, tenant, "cli-browser-2-0123456789")
    refused = run(state_dir, "deny", second.id)
    assert refused.returncode == 0, refused.stderr
    assert "La Poste" in refused.stdout
    assert status(server, tenant, second, "cli-browser-2-0123456789") is ApprovalStatus.DENIED
    assert "No request is waiting." in run(state_dir, "pending").stdout


def test_a_wrong_number_refuses_the_request(
    server: LiveServer, tenant: Tenant, state_dir: Path, activated: dict[str, str]
) -> None:
    request = new_request(server, tenant, "cli-browser-3-0123456789")
    wrong = "00" if request.binding_code != "00" else "01"
    result = run(state_dir, "approve", request.id, "--binding", wrong, "--json", stdin=f"{PIN}\n")
    assert result.returncode == 1 and json.loads(result.stdout)["error"] == "binding_mismatch"
    assert status(server, tenant, request, "cli-browser-3-0123456789") is ApprovalStatus.DENIED


def test_without_an_activated_device(tmp_path: Path) -> None:
    result = run(tmp_path / "empty", "pending")
    assert result.returncode == 2
    assert "sesame-app activate" in result.stderr
