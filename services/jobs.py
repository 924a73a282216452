"""Background training for the app: one job at a time, in a thread, never blocking requests.

The app keeps one :class:`TrainingRunner` for the whole server; any session may start a
job when none runs (a second request gets :class:`Busy`), and every session can watch it. Only
the session that started a job may cancel it. The job writes under a name its owner claimed
(services.ownership); a job that ends without writing its file gives a new name back.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from services.ownership import Claim, claim
from services.quotas import expected_bytes
from vae.architecture import VAEConfig
from vae.checkpoints import CheckpointError
from vae.data import DatasetError, load_split
from vae.train import Progress, TrainConfig, TrainingError, train


class Busy(RuntimeError):
    """A training job is already running."""


class NotYourJob(PermissionError):
    """Only the session that started a job may cancel it."""


class _Cancelled(Exception):
    pass


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of the runner's job (immutable, safe to hand to any thread)."""

    state: str = "idle"          # idle | loading | running | done | failed | cancelled
    config: TrainConfig | None = None
    out: Path | None = None
    progress: Progress | None = None
    history: tuple[dict, ...] = ()
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    owner: str | None = None
    message: str = field(default="")

    @property
    def active(self) -> bool:
        return self.state in ("loading", "running")


class TrainingRunner:
    """Runs at most one training job at a time in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status = JobStatus()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> JobStatus:
        with self._lock:
            return self._status

    def start(self, cfg: TrainConfig, out: Path | Claim, data_dir: Path, owner: str = "", download: bool = True) -> None:
        """Start training ``cfg`` into ``out`` (a path, or the claim on its name: released if the job
        writes nothing); raises :class:`Busy` if a job is running."""
        claim = out if isinstance(out, Claim) else None
        path = out.path if isinstance(out, Claim) else Path(out)
        with self._lock:
            s = self._status
            if s.active and s.config is not None and s.started is not None:
                raise Busy(f"a training job is already running ({s.config.head} head, latent {s.config.latent}, "
                           f"started {time.time() - s.started:.0f} s ago); try again when it has finished")
            self._cancel.clear()
            self._status = JobStatus("loading", cfg, path, started=time.time(), owner=owner,
                                     message=f"loading {cfg.dataset}")
            self._thread = threading.Thread(target=self._run, args=(cfg, path, Path(data_dir), download, claim),
                                            name="vae-training", daemon=True)
            self._thread.start()

    def cancel(self, owner: str | None = None) -> None:
        """Ask the running job to stop after its current step (finished epochs stay saved).

        ``owner`` is the session asking (None: the server itself, e.g. a test's clean-up);
        :class:`NotYourJob` if it did not start the job."""
        with self._lock:
            if owner is not None and self._status.owner != owner:
                raise NotYourJob("only the visitor who started this training run may cancel it")
            self._cancel.set()

    def wait(self, timeout: float | None = None) -> JobStatus:
        """Block until the current job ends (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status()

    def _update(self, **changes) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _on_progress(self, p: Progress) -> None:
        if self._cancel.is_set():
            raise _Cancelled
        self._update(state="running", progress=p, history=tuple(p.history),
                     message=f"epoch {p.epoch}/{p.epochs}, step {p.step}/{p.steps_per_epoch}")

    def _run(self, cfg: TrainConfig, out: Path, data_dir: Path, download: bool, claim: Claim | None) -> None:
        try:
            self._train(cfg, out, data_dir, download)
        finally:
            if claim is not None:
                claim.release()  # a new name nothing was written under is free again

    def _train(self, cfg: TrainConfig, out: Path, data_dir: Path, download: bool) -> None:
        try:
            train_split = load_split(cfg.dataset, True, data_dir, download=download)
            test_split = load_split(cfg.dataset, False, data_dir, download=download)
            self._update(state="running", message="training")
            train(cfg, out, train_split, test_split, progress=self._on_progress)
            self._update(state="done", finished=time.time(), message=f"saved {out.name}")
        except _Cancelled:
            self._update(state="cancelled", finished=time.time(),
                         message="cancelled" + (f"; {out.name} holds the finished epochs" if out.exists() else ""))
        except (DatasetError, TrainingError, CheckpointError, ValueError, OSError) as err:
            self._update(state="failed", finished=time.time(), error=str(err))
        except Exception as err:  # a background thread must report, never die silently
            self._update(state="failed", finished=time.time(), error=f"{type(err).__name__}: {err}")


def start_training(runner: TrainingRunner, *, name: str, owner: str, folder: Path, data_dir: Path,
                   replace_own: bool = False, **settings) -> None:
    """Start ``runner`` on ``TrainConfig(**settings)`` into ``folder/name.safetensors`` for ``owner``.

    The name is claimed first (services.ownership: NameTaken, QuotaError) and given back if the job
    cannot start (:class:`Busy`) or ends without writing; ValueError for bad settings or name.
    """
    from services.catalog import checkpoint_name

    cfg = TrainConfig(**settings)
    if runner.status().active:  # say so before claiming a name
        raise Busy("a training job is already running; try again when it has finished")
    taken = claim(folder, checkpoint_name(name), owner, replace_own=replace_own,
                  new_bytes=expected_bytes(VAEConfig(latent=cfg.latent, hidden=cfg.hidden), with_resume_state=True))
    try:
        runner.start(cfg, taken, data_dir, owner=owner)
    except BaseException:
        taken.release()
        raise
