"""sslyze against a real federation port: TLS 1.3 only, and a client certificate required.

One backend is enough here: the database plays no part in the handshake. SSL 2.0 is left out
because the OpenSSL behind Python cannot speak it at all (and sslyze spends seconds on retries
proving it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fedkit import Running, free_port, link, serve
from sslyze import (
    ClientAuthenticationCredentials,
    ClientAuthRequirementEnum,
    ScanCommand,
    Scanner,
    ServerNetworkConfiguration,
    ServerNetworkLocation,
    ServerScanRequest,
    ServerScanResult,
    ServerScanStatusEnum,
    TlsVersionEnum,
)

from polex.federation.sharing import default_sharing
from polex.node.home import init_node

LEGACY = {
    "ssl_3_0_cipher_suites": ScanCommand.SSL_3_0_CIPHER_SUITES,
    "tls_1_0_cipher_suites": ScanCommand.TLS_1_0_CIPHER_SUITES,
    "tls_1_1_cipher_suites": ScanCommand.TLS_1_1_CIPHER_SUITES,
    "tls_1_2_cipher_suites": ScanCommand.TLS_1_2_CIPHER_SUITES,
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Running, Path, Path]]:
    a = init_node(tmp_path / "a", "NODE-A")
    b = init_node(tmp_path / "b", "NODE-B")
    a_port, b_port = free_port(), free_port()
    link(a, a_port, b, b_port, default_sharing(), default_sharing())
    running = serve(b, b_port)
    try:
        yield running, a.keys.cert_file, a.keys.key_file
    finally:
        running.stop()


def scan(port: int, credentials: ClientAuthenticationCredentials | None) -> ServerScanResult:
    scanner = Scanner()
    scanner.queue_scans(
        [
            ServerScanRequest(
                server_location=ServerNetworkLocation("127.0.0.1", port),
                network_configuration=ServerNetworkConfiguration(
                    tls_server_name_indication="NODE-B",
                    tls_client_auth_credentials=credentials,
                ),
                scan_commands={*LEGACY.values(), ScanCommand.TLS_1_3_CIPHER_SUITES},
            )
        ]
    )
    (result,) = list(scanner.get_results())
    assert result.scan_status == ServerScanStatusEnum.COMPLETED, result.connectivity_error_trace
    return result


def test_only_tls13_and_a_client_certificate_required(served: tuple[Running, Path, Path]) -> None:
    running, cert, key = served
    anonymous = scan(running.port, None)
    assert anonymous.connectivity_result is not None
    assert (
        anonymous.connectivity_result.client_auth_requirement == ClientAuthRequirementEnum.REQUIRED
    )
    assert anonymous.connectivity_result.highest_tls_version_supported == TlsVersionEnum.TLS_1_3

    linked = scan(running.port, ClientAuthenticationCredentials(cert, key))
    assert linked.scan_result is not None
    for name in LEGACY:
        attempt = getattr(linked.scan_result, name)
        assert attempt.result is not None, name
        assert attempt.result.accepted_cipher_suites == [], name
    tls13 = linked.scan_result.tls_1_3_cipher_suites.result
    assert tls13 is not None and tls13.accepted_cipher_suites
