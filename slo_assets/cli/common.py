"""What every command shares: the project folder, bad input as one line with exit 2, and the warehouse options."""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import traceback
from pathlib import Path

# The instance settings, at the project root, which is DAGSTER_HOME unless it is set (slo_assets/defs/instance.py).
INSTANCE_CONFIG = Path("dagster.yaml")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line naming it (argparse prints the whole usage first)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists the options)\n")


def _month(value: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"month must be YYYY-MM, not {value!r}")
    return value


def _count(value: str) -> int:
    """A whole number of events, 0 or more."""
    if not re.fullmatch(r"\d+", value.strip()):
        raise argparse.ArgumentTypeError(f"expected a whole number, 0 or more, not {value!r}")
    return int(value)


def _positive(value: str) -> int:
    """A whole number, 1 or more (a number of requests to write)."""
    if not re.fullmatch(r"\d+", value.strip()) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number, 1 or more, not {value!r}")
    return int(value)


def _incidents(value: str) -> int:
    if value.strip() not in {"0", "1", "2", "3", "4"}:
        raise argparse.ArgumentTypeError(f"expected 0 to 4 incidents, not {value!r}")
    return int(value)


def _log_month(value: str) -> str:
    """A month that generated logs can hold: from 1970-01 (epoch timestamps) to 9998-12 (its next month must exist)."""
    month = _month(value)
    if not "1970-01" <= month <= "9998-12":
        raise argparse.ArgumentTypeError(f"month must be between 1970-01 and 9998-12, not {value!r}")
    return month


def _ratio(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, not {value!r}")
    return number


def warehouse_option(parser: argparse.ArgumentParser, what: str) -> None:
    """--warehouse of a command reading a warehouse: `what` says which one; the default is read when the
    command line is parsed, never at import."""
    from slo_assets.defs.settings import DEFAULT_WAREHOUSE, WAREHOUSE_SETTING, default_warehouse

    parser.add_argument("--warehouse", default=default_warehouse(), help=f"{what} (default ${WAREHOUSE_SETTING} or {DEFAULT_WAREHOUSE})")


def _project_root() -> Path:
    """The project folder (holding dagster.yaml): the current one when it has it, else the source checkout."""
    here = Path.cwd()
    if (here / INSTANCE_CONFIG).exists():
        return here
    return Path(__file__).resolve().parents[2]


class InputError(ValueError):
    """Bad command-line input; the message says what and where."""


def _check_writable(option: str, folder: Path) -> None:
    """The folder exists or can be made, and takes a file: said before any run starts."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".slo-assets-probe-"):
            pass
    except OSError as error:
        raise InputError(f"{option} {folder}: cannot write there ({type(error).__name__}: {error.strerror or error})") from error


def _is_url(warehouse: str) -> bool:
    from fsspec.core import split_protocol

    from slo_assets.warehouse.storage import LOCAL_PROTOCOLS

    return (split_protocol(warehouse)[0] or "") not in LOCAL_PROTOCOLS


def warehouse_location(value: str) -> str:
    """A warehouse argument as the resources take it: an fsspec URL unchanged, a local folder made absolute."""
    return value if _is_url(value) else str(Path(value.removeprefix("file://")).resolve())


def existing_warehouse(value: str | os.PathLike):
    """The warehouse a command reads: a local folder must exist (a typo is not an empty warehouse)."""
    from slo_assets.warehouse.storage import Warehouse

    if not _is_url(str(value)):
        folder = Path(str(value).removeprefix("file://"))
        if not folder.is_dir():
            raise InputError(f"--warehouse {value}: {'not a folder' if folder.exists() else 'does not exist'}")
        return Warehouse(folder.resolve())
    try:
        return Warehouse(str(value))
    except (ImportError, ValueError) as error:
        raise InputError(f"--warehouse {value}: {error}") from error


def stage_dir(warehouse: str) -> str:
    """The local parse cache: $SLO_ASSETS_STAGE_DIR, else <warehouse>/_staging on local disk, else
    data/staging under the working folder (an object store cannot hold it)."""
    from slo_assets.defs.settings import STAGE_SETTING

    chosen = os.environ.get(STAGE_SETTING)
    if chosen:
        return str(Path(chosen).resolve())
    return str(Path("data", "staging").resolve()) if _is_url(warehouse) else ""


def _check_warehouse(warehouse: str) -> None:
    """A local warehouse folder takes a file; an object store warehouse takes (and drops) a probe
    object: bad credentials, a missing bucket or a missing fsspec package, said before any run."""
    from slo_assets.warehouse.storage import Warehouse

    try:
        store = Warehouse(warehouse)
    except (ImportError, ValueError) as error:
        raise InputError(f"--warehouse {warehouse}: {error}") from error
    if store.is_local:
        _check_writable("--warehouse", Path(warehouse))
        return
    probe = store.path(f".slo-assets-probe-{os.getpid()}")
    try:
        store.write_bytes_atomic(probe, b"")
        probe.unlink()
    except Exception as error:  # botocore, aiohttp, permission: each says what went wrong in its message
        raise InputError(f"--warehouse {warehouse}: cannot write there ({type(error).__name__}: {error})") from error


def _input_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input, each with a message naming what to fix. Imported only once a
    command failed: they are the parsers', which a command that never reached them need not import."""
    from slo_assets.core.clock import SettingError
    from slo_assets.ingest.config import ConfigError
    from slo_assets.ingest.files import LogDiscoveryError

    return InputError, ConfigError, SettingError, LogDiscoveryError, OSError


def _guarded(command: str, body) -> int:
    """Run a command body; bad input exits 2 with its message, anything unexpected exits 1 with
    one line and the traceback in a file, never on the user's screen."""
    from slo_assets.core.errors import DefinitionError

    try:
        return body()
    except KeyboardInterrupt:
        print(f"slo-assets {command}: interrupted", file=sys.stderr)
        return 130
    except DefinitionError as error:  # specs, runbooks, rules: each problem names file, document and field
        print("\n".join(error.problems), file=sys.stderr)
        return 2
    except Exception as error:
        if isinstance(error, _input_errors()):
            print(f"slo-assets {command}: {error}", file=sys.stderr)
            return 2
        # a bug: say so in one line, keep the evidence
        with tempfile.NamedTemporaryFile("w", prefix="slo-assets-error-", suffix=".log", delete=False) as handle:
            traceback.print_exc(file=handle)
        print(f"slo-assets {command}: unexpected {type(error).__name__}: {error}\n  traceback: {handle.name} "
              "(please attach it to a bug report)", file=sys.stderr)
        return 1
