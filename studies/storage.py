"""Where studies live: a SQLite file in the output directory by default, any Optuna RDB URL
(PostgreSQL for many machines), or a journal file (many processes sharing a filesystem)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend

from peftbench.errors import UserError
from peftbench.layout import ComparisonDir

JOURNAL_SUFFIXES = (".journal", ".log")
ATTEMPTS = 3


@dataclass(frozen=True)
class StorageChoice:
    url: str  # what the user passed, or the local default
    local: bool  # True: a file in the output directory that only this comparison's processes use

    @property
    def is_journal(self) -> bool:
        return self.url.endswith(JOURNAL_SUFFIXES) and "://" not in self.url or self.url.startswith("journal:")


def password_of(url: str) -> str | None:
    """The password in ``scheme://user:password@host/...`` (everything up to the last ``@``)."""
    scheme, sep, rest = url.partition("://")
    credentials, at, _ = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return None
    return credentials.split(":", 1)[1] or None


def redact(text: str, url: str | None = None) -> str:
    """``text`` with the password of ``url`` (default: of ``text`` itself) replaced by ``***``,
    wherever it appears — safe for logs, errors and reports."""
    password = password_of(url if url is not None else text)
    return text.replace(password, "***") if password else text


def choose_storage(url: str | None, out: Path, workers: int) -> StorageChoice:
    """The user's storage, or a local file: SQLite for one process, a journal for several (SQLite
    is for one process). An existing local file wins, so a resumed run finds its studies."""
    if url:
        return StorageChoice(url, local=False)
    layout = ComparisonDir(out)
    for path in (layout.sqlite, layout.journal):
        if path.exists():
            return StorageChoice(_local_url(path), local=True)
    return StorageChoice(_local_url(layout.sqlite if workers == 1 else layout.journal), local=True)


def _local_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}" if path.suffix == ".db" else str(path.resolve())


def open_storage(choice: StorageChoice, heartbeat_interval: int, grace_period: int) -> optuna.storages.BaseStorage:
    """Open (and check we can reach) the storage. RDB storages get heartbeats so trials of dead
    workers are failed and re-queued (``RetryHeartbeatStaleTrialCallback``)."""
    if choice.is_journal:
        path = Path(choice.url.removeprefix("journal:"))
        if not path.parent.is_dir():
            raise UserError(f"journal storage {path}: directory {path.parent} does not exist")
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in choice.url:
        raise UserError(f"storage {redact(choice.url)!r} is neither a database URL (sqlite:///…, postgresql://…) "
                        f"nor a journal file ending in {' or '.join(JOURNAL_SUFFIXES)}")
    def connect() -> RDBStorage:
        storage = RDBStorage(
            choice.url,
            engine_kwargs={"pool_pre_ping": True} if not choice.url.startswith("sqlite") else {},
            heartbeat_interval=None if choice.local else heartbeat_interval,
            grace_period=None if choice.local else grace_period,
            heartbeat_stale_trial_callback=None if choice.local else RetryHeartbeatStaleTrialCallback(),
        )
        storage.get_all_studies()  # fail now, clearly, if the server is unreachable or refuses us
        return storage

    # machines started together on a new database race to create Optuna's tables: try again
    for attempt in range(1, ATTEMPTS):
        try:
            return connect()
        except Exception:  # noqa: BLE001 — the last attempt below reports the error
            time.sleep(attempt)
    try:
        return connect()
    except Exception as error:  # sqlalchemy/driver errors of many types all mean "cannot use this storage"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"cannot open storage {redact(choice.url)}: {redact(first, choice.url)[:300]}") from None
