"""TLS for the Upstox simulator: a throw-away local CA (``trustme``) and a server certificate.

The CA and the server certificate are written to a folder (``tls_dir``) as PEM files:

* ``ca.pem``: the CA certificate clients must trust (``MIXBOT_UPSTOX_CA_BUNDLE``, or the
  SDK's ``configuration.ssl_ca_cert``);
* ``server.pem`` / ``server.key``: the server chain and key, valid for ``127.0.0.1``,
  ``::1`` and ``localhost``.

A new CA is made on every start (files are overwritten), so two simulators should not
share a folder. Certificate verification stays ON in every client: nothing here disables it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files written by :func:`make_tls`."""

    ca_path: Path
    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context (TLS 1.2+) serving the simulator's certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert_path), str(self.key_path))
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only the simulator's CA (for tests)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


def make_tls(folder: Path) -> TlsFiles:
    """Create a CA and a server certificate for :data:`HOSTS`; write them under ``folder``.

    Args:
        folder: created if missing; ``ca.pem``, ``server.pem`` and ``server.key`` are
            (over)written there.

    Returns:
        the :class:`TlsFiles` paths.
    """
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="mixbot Upstox simulator")
    cert = ca.issue_cert(*HOSTS)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_path))
    cert.private_key_pem.write_to_path(str(files.key_path))
    with files.cert_path.open("wb") as fh:
        for blob in cert.cert_chain_pems:
            fh.write(blob.bytes())
    files.key_path.chmod(0o600)
    return files
