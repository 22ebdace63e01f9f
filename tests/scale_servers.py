"""Throwaway servers for the scale-out tests and benchmark: an S3 API (moto's server mode) and Redis,
each on 127.0.0.1 on a free port with a temporary folder, started as a process and stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

# moto accepts any key pair; these only have to look like one.
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "slo-assets-test", "AWS_SECRET_ACCESS_KEY": "slo-assets-test-secret",
                  "AWS_DEFAULT_REGION": "us-east-1",
                  # never ask the cloud metadata address for a role: the local server is the only endpoint
                  "AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server not listening on 127.0.0.1:{port} after {seconds} s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen, seconds: float = 10.0) -> None:
    """SIGTERM by PID, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=seconds)


@contextmanager
def s3_server(bucket: str = "slo-warehouse"):
    """Yields the environment a client of the server needs (credentials and AWS_ENDPOINT_URL), with `bucket` created."""
    folder = Path(tempfile.mkdtemp(prefix="slo-s3-"))
    port, log = free_port(), folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    try:
        _wait_for_port(port, process, log)
        env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
        import boto3

        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_DEFAULT_REGION"],
                     aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"]
                     ).create_bucket(Bucket=bucket)
        yield env
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def redis_server():
    """Yields the redis:// URL of a fresh server without persistence, its data folder temporary."""
    folder = Path(tempfile.mkdtemp(prefix="slo-redis-"))
    port, log = free_port(), folder / "server.log"
    process = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
                                "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--logfile", str(log)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        log.touch()
        _wait_for_port(port, process, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def celery_config_module(folder: Path, broker: str) -> Path:
    """The `dagster_celery_config` module dagster_celery.app reads from the worker's PYTHONPATH:
    what `dagster-celery worker start -y` writes; here the broker and backend of `broker`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster_celery_config.py").write_text(f"broker_url = {broker!r}\nresult_backend = {broker!r}\n")
    return folder


@contextmanager
def celery_workers(count: int, broker: str, env: dict[str, str], folder: Path, seconds: float = 60.0):
    """`count` Celery workers of dagster_celery.app (named worker1@..., one task at a time each),
    yielding their names once each has said it is ready; stopped by PID (warm shutdown, then SIGKILL)."""
    config = celery_config_module(folder / "celery_config", broker)
    worker_env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(config)) if p)}
    workers, names, logs = [], [], []
    try:
        for number in range(1, count + 1):
            name, log = f"worker{number}@%h", folder / f"worker{number}.log"
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-n", name, "-Q", "dagster",
                 "--pool", "solo", "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle",
                 "--loglevel", "INFO", "--logfile", str(log)],
                env=worker_env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            names.append(name.replace("%h", socket.gethostname()))
            logs.append(log)
        deadline = time.monotonic() + seconds
        for worker, log in zip(workers, logs, strict=True):
            while not (log.exists() and " ready." in log.read_text()):
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"celery worker did not start: {log.read_text()[-3000:] if log.exists() else ''}")
                time.sleep(0.1)
        yield names
    finally:
        for worker in workers:
            stop(worker, seconds=30)
