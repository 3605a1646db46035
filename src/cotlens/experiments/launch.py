"""Running a training experiment's independent jobs (one per arm and seed): in this process, in worker processes
on this machine, or on a cluster through submitit.

- ``local`` (the default): ``concurrent.futures.ProcessPoolExecutor`` from the standard library, ``workers``
  processes started with ``spawn`` (a fresh interpreter each: no torch state inherited from the parent), each
  job on one torch thread. With ``workers=1`` the jobs run in this process, one after another.
- ``submitit``: Facebook Research's ``submitit`` (the ``cluster`` extra), which puts each job on Slurm as an
  element of a job array (``workers`` caps how many run at once) and, where there is no Slurm, runs them with its
  local executor (subprocesses on this machine, ``workers`` at a time), which is how it is tested here. It is
  the launcher Hydra and most PyTorch research code already use for Slurm; Ray would bring a scheduler and an
  object store that independent jobs writing to one directory do not need.

A job writes its results into the experiment's directory and returns nothing the caller needs, so a job that
fails loses only itself: the others run to the end, and the first failure is raised after them (the finished
jobs' files are kept, and a rerun skips them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cotlens.types import CotlensError

LAUNCHERS = ("local", "submitit")
JOB_TIMEOUT_MIN = 360
"""Slurm's time limit for one job (submitit), in minutes."""


def default_workers(workers: int, jobs: int) -> int:
    """``workers``, or one per CPU core when 0; never more than there are jobs."""
    if workers < 0:
        raise CotlensError(f"--workers must be 0 (one per core) or more, got {workers}")
    return max(1, min(workers or (os.cpu_count() or 1), jobs))


def one_thread() -> None:
    """A worker's set-up: one torch thread (and one for the libraries torch calls), so that jobs running side by
    side do not slow each other and each job's numbers are those of a one-thread run."""
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def in_one_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with torch on one thread, restored afterwards (a job run in the caller's process)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(before)


def _finish(errors: list[tuple[Sequence[Any], BaseException]]) -> None:
    if errors:
        args, err = errors[0]
        more = f" ({len(errors) - 1} more jobs failed)" if len(errors) > 1 else ""
        if isinstance(err, CotlensError):
            raise CotlensError(f"job {', '.join(map(str, args))}: {err}{more}") from err
        raise RuntimeError(f"job {', '.join(map(str, args))} failed{more}") from err


def launch(fn: Callable[..., Any], jobs: Sequence[Sequence[Any]], workers: int = 1, launcher: str = "local",
           folder: Path | None = None, progress: bool = True, desc: str = "jobs") -> None:
    """Run ``fn(*args)`` for every ``args`` in ``jobs`` (``fn`` picklable: a module-level function, or a
    ``functools.partial`` of one). ``folder`` holds submitit's logs."""
    if launcher not in LAUNCHERS:
        raise CotlensError(f"--launcher must be one of {', '.join(LAUNCHERS)}, got {launcher!r}")
    if not jobs:
        return
    workers = default_workers(workers, len(jobs))
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress)
    errors: list[tuple[Sequence[Any], BaseException]] = []
    try:
        if launcher == "submitit":
            _submitit(fn, jobs, workers, folder, bar, errors)
        elif workers == 1:
            for args in jobs:
                try:
                    in_one_thread(fn, *args)
                except Exception as e:  # the other jobs still run; raised below
                    errors.append((args, e))
                bar.update()
        else:
            _pool(fn, jobs, workers, bar, errors)
    finally:
        bar.close()
    _finish(errors)


def _pool(fn: Callable[..., Any], jobs: Sequence[Sequence[Any]], workers: int, bar: tqdm[Any],
          errors: list[tuple[Sequence[Any], BaseException]]) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=one_thread)
    try:
        futures = {pool.submit(fn, *args): args for args in jobs}
        for f in as_completed(futures):
            err = f.exception()
            if err is not None:
                errors.append((futures[f], err))
            bar.update()
    except BaseException:  # interrupted: drop what has not started; finished jobs are on disk
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _submitit(fn: Callable[..., Any], jobs: Sequence[Sequence[Any]], workers: int, folder: Path | None,
              bar: tqdm[Any], errors: list[tuple[Sequence[Any], BaseException]]) -> None:
    try:
        import submitit
    except ImportError:
        raise CotlensError("--launcher submitit needs submitit: pip install 'cotlens[cluster]'") from None
    executor = submitit.AutoExecutor(folder=str(folder or Path("submitit")))
    executor.update_parameters(timeout_min=JOB_TIMEOUT_MIN, cpus_per_task=1, slurm_array_parallelism=workers)
    # on Slurm the array runs `workers` at a time; the local executor starts every job it is given at once, so it
    # gets them `workers` at a time
    size = len(jobs) if executor.cluster == "slurm" else workers
    for i in range(0, len(jobs), size):
        chunk = jobs[i:i + size]
        submitted = executor.map_array(_call, [fn] * len(chunk), list(chunk))
        for args, job in zip(chunk, submitted, strict=True):
            try:
                job.result()
            except Exception as e:  # submitit re-raises the job's error (or a FailedJobError)
                errors.append((args, e))
            bar.update()


def _call(fn: Callable[..., Any], args: Sequence[Any]) -> None:
    one_thread()
    fn(*args)
