"""A MySQL connection with sslmode verify-full opens its socket to the address resolved once
and checks the certificate against the host *name* (storage.connectors.verifying_context):
a real TLS handshake on 127.0.0.1 with a certificate for db.example.test."""
from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from storage.connectors import verifying_context

NAME = "db.example.test"


@pytest.fixture
def tls_server(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve():
        for _ in range(2):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with server.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], cert_file
    listener.close()
    thread.join(5)


def handshake(port: int, cafile, name: str) -> bytes:
    context = verifying_context(name)
    context.load_verify_locations(cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    # PyMySQL passes the host it connected to (here the address) as server_hostname.
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return tls.recv(2)


def test_the_certificate_is_checked_against_the_name_not_the_address(tls_server):
    port, cafile = tls_server
    assert handshake(port, cafile, NAME) == b"ok"
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|doesn't match"):
        handshake(port, cafile, "elsewhere.example.test")
