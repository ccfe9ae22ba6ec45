"""TLS between client, scheduler and workers, with certificates made here.

A self-signed CA signs a certificate for the scheduler and workers and one for the client
(with the ``cryptography`` package when installed, else the ``openssl`` command). A
TLS-only scheduler and two workers run as separate processes on 127.0.0.1; a sweep runs
through ``client_for`` with a profile that requires encryption, and clients without a
certificate from that CA are refused. Every process started here is stopped by PID.
"""
from __future__ import annotations

import datetime
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
from conftest import small_spec, stop_processes, subprocess_env

import sweeps
from sweeps import SpecError
from sweeps.cluster import client_for, cluster_from_profile, load_profile

ROOT = Path(__file__).resolve().parents[2]
HAVE_CRYPTOGRAPHY = importlib.util.find_spec("cryptography") is not None
pytestmark = pytest.mark.skipif(not HAVE_CRYPTOGRAPHY and shutil.which("openssl") is None,
                                reason="neither the cryptography package nor the openssl command is available")


# --------------------------------------------------------------------------- certificates


def _certs_cryptography(folder: Path, names: list[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def write(stem, key, cert):
        (folder / f"{stem}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (folder / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def builder(subject, issuer, key):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nmm test CA")])
    ca = (builder(ca_name, ca_name, ca_key)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    write("ca", ca_key, ca)
    for stem in names:
        key = ec.generate_private_key(ec.SECP256R1())
        import ipaddress

        cert = (builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, stem)]), ca_name, key)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                               critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        write(stem, key, cert)


def _certs_openssl(folder: Path, names: list[str]) -> None:
    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=nmm test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    (folder / "leaf.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth,clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    for stem in names:
        run("req", *ec, "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", f"/CN={stem}")
        run("x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{stem}.pem", "-days", "1", "-extfile", "leaf.ext")


def make_certs(folder: Path, names=("node", "client")) -> Path:
    """A CA (``ca.pem``/``ca.key``) and, for each name, ``<name>.pem``/``<name>.key`` it signed."""
    folder.mkdir(parents=True, exist_ok=True)
    (_certs_cryptography if HAVE_CRYPTOGRAPHY else _certs_openssl)(folder, list(names))
    return folder


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    """A certificate from another CA."""
    return make_certs(tmp_path_factory.mktemp("tls-other"), names=("client",))


# --------------------------------------------------------------------------- processes






@pytest.fixture
def tls_cluster(tmp_path, certs):
    """A TLS-only scheduler and two workers on 127.0.0.1; yields the scheduler address."""
    tls = ["--tls-ca-file", str(certs / "ca.pem"), "--tls-cert", str(certs / "node.pem"),
           "--tls-key", str(certs / "node.key")]
    sched_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--protocol", "tls", "--host", "127.0.0.1",
         "--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(sched_file), *tls],
        env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.time() + 30
        while not (sched_file.exists() and sched_file.read_text().strip()):
            if scheduler.poll() is not None or time.time() > deadline:
                pytest.fail("the TLS scheduler did not start")
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tls://127.0.0.1:")
        for i in range(2):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny",
                 "--host", "127.0.0.1", "--name", f"w{i}", "--dashboard-address", ":0", *tls],
                env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        stop_processes(workers)
        stop_processes([scheduler])


def _profile_file(tmp_path: Path, certs: Path, address: str) -> Path:
    """A profile with relative certificate paths (relative to the profile's folder)."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    rel = os.path.relpath(certs, folder)
    path = folder / "secure.yaml"
    path.write_text(yaml.safe_dump({
        "kind": "address", "address": address, "timeout": 20,
        "security": {"tls_ca_file": f"{rel}/ca.pem", "tls_cert": f"{rel}/client.pem",
                     "tls_key": f"{rel}/client.key", "require_encryption": True}}))
    return path


def _probe(address: str, certs: Path, cert: str | None) -> str:
    """Open a raw TLS connection (with ``<cert>.pem`` or no client certificate) and read.

    Returns ``'accepted'`` when the scheduler answers, else the error it sent.
    """
    import socket
    import ssl

    host, port = address.removeprefix("tls://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(certs / f"{cert}.pem", certs / f"{cert}.key")
    try:
        with socket.create_connection((host, int(port)), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as conn:
            conn.sendall(b"\x00" * 8)
            return "accepted" if conn.recv(1) else "closed"  # TLS 1.3: a refusal comes after the handshake
    except (ssl.SSLError, OSError) as exc:
        return str(exc)


# --------------------------------------------------------------------------- tests


@pytest.mark.integration
def test_sweep_over_tls_and_strangers_refused(tmp_path, certs, stranger, tls_cluster):
    from distributed import Client
    from distributed.security import Security

    address = tls_cluster
    profile = _profile_file(tmp_path, certs, address)
    spec = small_spec(tmp_path / "s.zarr", tile=6)
    with client_for(str(profile)) as client:
        assert client.security.require_encryption
        client.wait_for_workers(2, timeout=60)
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2 and all(a.startswith("tls://127.0.0.1:") for a in workers)
        sweeps.run_sweep(spec, client=client, progress=False)
    ds = xr.open_zarr(spec.storage.store).load()
    assert ds["done"].values.all()
    assert np.isfinite(ds["V_pce_mean"].values).all()

    # a client whose certificate another CA signed: the scheduler refuses the handshake
    t0 = time.time()
    with pytest.raises(OSError):
        Client(address, timeout=3, security=Security(
            tls_ca_file=str(certs / "ca.pem"), tls_client_cert=str(stranger / "client.pem"),
            tls_client_key=str(stranger / "client.key"), require_encryption=True))
    assert time.time() - t0 < 20
    # a TLS client without any certificate: the scheduler demands one and drops the
    # connection (the alert, or under load just the closed socket, reaches the client)
    refusal = _probe(address, certs, None)
    assert refusal != "accepted"
    assert any(s in refusal for s in ("CERTIFICATE_REQUIRED", "EOF occurred", "closed", "reset")), refusal
    assert _probe(address, certs, "client") == "accepted"
    # plain TCP to the TLS port: no handshake, no connection
    t0 = time.time()
    with pytest.raises(OSError):
        Client(address.replace("tls://", "tcp://"), timeout=3)
    assert time.time() - t0 < 20
    # and client_for says what is missing when the profile has no security
    with pytest.raises(SpecError, match="speaks TLS: give the cluster a profile with `security:"):
        with client_for({"kind": "address", "address": address, "timeout": 3}):
            pass


def test_tls_jobqueue_job_script(tmp_path, certs):
    """A jobqueue profile with security: TLS scheduler, workers started with the files."""
    pytest.importorskip("dask_jobqueue")
    profile = load_profile({
        "kind": "slurm", "cores": 1, "memory": "1GB", "jobs": 1,
        "scheduler_options": {"host": "127.0.0.1", "dashboard_address": ":0"},
        "security": {"tls_ca_file": str(certs / "ca.pem"), "tls_cert": str(certs / "node.pem"),
                     "tls_key": str(certs / "node.key")}})
    cluster, address = cluster_from_profile(profile)
    try:
        assert address.startswith("tls://127.0.0.1:")
        script = cluster.job_script()
        assert f"--tls-ca-file {certs / 'ca.pem'}" in script
        assert f"--tls-cert {certs / 'node.pem'}" in script
        assert f"--tls-key {certs / 'node.key'}" in script
        assert "--protocol tls://" in script
    finally:
        cluster.close()


def test_tls_local_cluster(certs):
    """The local kind with security: scheduler, workers and client all on TLS."""
    profile = {"kind": "local", "n_workers": 1, "security": {
        "tls_ca_file": str(certs / "ca.pem"), "tls_cert": str(certs / "node.pem"), "tls_key": str(certs / "node.key")}}
    with client_for(profile) as client:
        assert client.scheduler.address.startswith("tls://127.0.0.1:")
        assert all(a.startswith("tls://") for a in client.scheduler_info()["workers"])
        assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3
