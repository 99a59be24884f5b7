"""A real S3-compatible server for tests: moto's standalone server (`moto[server]` from PyPI) as a
subprocess on a free 127.0.0.1 port. Its state lives in memory: `kill()` is a SIGKILL (the store
gone mid-ingest), `start()` again brings up an empty one, `upload()` puts objects back.

`env()` is what a client needs, the standard AWS way: AWS_ENDPOINT_URL, keys, region.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from emulators import _Server


class S3Server(_Server):
    name = "moto_server"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "2",           # a dead server fails fast instead of backing off
            "AWS_RETRY_MODE": "standard",
            "NO_PROXY": "127.0.0.1,localhost",     # a machine-wide proxy must not see loopback
            "no_proxy": "127.0.0.1,localhost",
        }

    def kill(self) -> None:
        """SIGKILL: the store disappears at once, mid-request."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def client(self):
        import boto3

        env = self.env()
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=env["AWS_DEFAULT_REGION"],
                            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])

    def upload(self, local_root: Path, bucket: str, prefix: str = "") -> list[str]:
        """Every file under local_root to s3://bucket/prefix/<relative path>; the keys written."""
        s3 = self.client()
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        keys = []
        for f in sorted(p for p in Path(local_root).rglob("*") if p.is_file()):
            key = "/".join(x for x in (prefix.strip("/"), f.relative_to(local_root).as_posix()) if x)
            s3.upload_file(str(f), bucket, key)
            keys.append(key)
        return keys


@contextmanager
def running_with_bucket(bucket: str) -> Iterator[S3Server]:
    """A started server holding one empty bucket, stopped on exit (a lake's tests' fixture)."""
    server = S3Server().start()
    try:
        server.client().create_bucket(Bucket=bucket)
        yield server
    finally:
        server.stop()
