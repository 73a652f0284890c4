"""Item 5: AMI over TLS (``pbx.tls``) and a warning when AMI would cross a network in clear.

The real test wraps the scripted peer in TLS with a throw-away self-signed certificate (made
by the ``openssl`` command, skipped without it): the link logs in over TLS when it trusts that
certificate, and refuses a peer whose certificate it cannot verify.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from callcenter.ami.link import AmiLink, LinkState
from callcenter.ami.tls import client_context, is_loopback, transport_warnings
from callcenter.settings import PbxSettings
from tests.ami.scripted_peer import ScriptedPeer
from tests.ami.test_link import pbx_settings, until


def _pbx(**values: object) -> PbxSettings:
    return PbxSettings.model_validate(
        {"name": "p", "username": "u", "secret": SecretStr("s"), **values}
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST.", True),
        ("10.0.0.5", False),
        ("192.168.1.10", False),
        ("pbx.example.com", False),
        ("localhost.evil.example", False),
    ],
)
def test_loopback_is_recognised_without_dns(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_warnings_for_clear_text_and_unverified_tls() -> None:
    assert transport_warnings(_pbx(host="127.0.0.1")) == []
    assert transport_warnings(_pbx(host="10.0.0.5", tls=True)) == []
    [clear] = transport_warnings(_pbx(host="10.0.0.5"))
    assert "clear text" in clear and "10.0.0.5:5038" in clear
    [unverified] = transport_warnings(_pbx(host="127.0.0.1", tls=True, tls_verify=False))
    assert "does not verify" in unverified


def test_the_context_follows_the_settings() -> None:
    assert client_context(_pbx()) is None
    verified = client_context(_pbx(tls=True))
    assert verified is not None and verified.verify_mode is ssl.CERT_REQUIRED
    assert verified.check_hostname
    unverified = client_context(_pbx(tls=True, tls_verify=False))
    assert unverified is not None and unverified.verify_mode is ssl.CERT_NONE


async def test_a_clear_text_link_to_a_remote_host_warns_at_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never routed, so nothing is reached.
    pbx = _pbx(host="192.0.2.1", action_timeout=0.2, secret=SecretStr("never-in-logs-42"))
    link = AmiLink(pbx, lambda *_: None)
    with caplog.at_level(logging.WARNING):
        task = asyncio.get_running_loop().create_task(link.run())
        await asyncio.sleep(0.05)
        await link.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "PBX p: AMI to 192.0.2.1:5038 is clear text" in caplog.text
    assert "never-in-logs-42" not in caplog.text


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    # scripts/setup.sh installs it; a missing one fails here rather than skipping TLS.
    assert openssl is not None, "the openssl command is missing (scripts/setup.sh installs it)"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@pytest.fixture
async def tls_peer(certificate: tuple[Path, Path]) -> AsyncIterator[ScriptedPeer]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = ScriptedPeer(tls=context)
    yield server
    await server.close()


async def test_the_link_logs_in_over_tls(
    tls_peer: ScriptedPeer, certificate: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    port = await tls_peer.start()
    settings = pbx_settings(port, tls=True, tls_ca_file=certificate[0])
    link = AmiLink(settings, lambda *_: None, base_delay=0.05)
    task = asyncio.get_running_loop().create_task(link.run())
    try:
        with caplog.at_level(logging.WARNING):
            await tls_peer.wait_login()
            await until(lambda: link.connected)
            reply = await link.send({"Action": "Ping"})
        assert reply["Response"] == "Success" and reply["Ping"] == "Pong"
        assert link._protocol is not None
        assert link._protocol.transport.get_extra_info("ssl_object") is not None
        assert caplog.text == ""  # loopback with verified TLS: nothing to warn about
    finally:
        await link.stop()
        await task


async def test_an_untrusted_certificate_is_refused(tls_peer: ScriptedPeer) -> None:
    port = await tls_peer.start()
    states: list[str] = []
    settings = pbx_settings(port, tls=True)  # the system's CAs do not know this certificate
    link = AmiLink(
        settings, lambda *_: None, on_state=lambda li: states.append(li.last_error), base_delay=0.05
    )
    task = asyncio.get_running_loop().create_task(link.run())
    try:
        await until(lambda: any("CERTIFICATE_VERIFY_FAILED" in s for s in states))
        assert link.state is not LinkState.CONNECTED and tls_peer.logins == 0
    finally:
        await link.stop()
        await task
