"""Where a study's runs execute: local processes, or Slurm jobs through submitit (a job array), or submitit's local
executor (the same path, real subprocesses, no Slurm: to try it on one machine and to test it).

    add_executor_arguments(parser)            # --executor, --jobs, --slurm-* and --submitit-folder
    results = map_runs(function, arguments, options)   # function(*arguments[i]) for each i, in order

A run that fails raises here with submitit's message (which names its log files); the runs already finished keep their
records, so rerunning the command resumes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

EXECUTORS = ("local", "submitit-local", "slurm")


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that choose and size the executor (defaults shown by ``--help``)."""
    group = parser.add_argument_group("where the runs execute")
    group.add_argument("--executor", choices=EXECUTORS, default="local",
                       help="local: a pool of --jobs processes on this machine; slurm: one Slurm job per run, as a job "
                            "array (submitit); submitit-local: every run at once in its own subprocess through "
                            "submitit's LocalExecutor (the Slurm path without Slurm)")  # fmt: skip
    group.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="runs at once: processes (local), or the array's parallelism (slurm)")  # fmt: skip
    group.add_argument("--slurm-partition", default=None, help="Slurm partition (none: the cluster's default)")
    group.add_argument("--slurm-time", type=int, default=60, metavar="MINUTES", help="time limit of each run's job")
    group.add_argument("--slurm-cpus", type=int, default=1, help="CPUs per run (its PyTorch threads)")
    group.add_argument("--slurm-mem-gb", type=int, default=8, help="memory per run, GB")
    group.add_argument("--slurm-gpus", type=int, default=0, help="GPUs per run (with --set device=cuda)")
    group.add_argument("--submitit-folder", type=Path, default=Path("results/studies/submitit"),
                       help="submitit's job files and each job's stdout/stderr logs")  # fmt: skip


def threads_per_run(options: argparse.Namespace) -> int:
    """PyTorch threads a run may use: one per local process (they share the machine), the job's CPUs on Slurm."""
    return options.slurm_cpus if options.executor == "slurm" else 1


def map_runs(function: Callable, arguments: Sequence[tuple], options: argparse.Namespace) -> list:
    """``function(*arguments[i])`` for every i, on the chosen executor; the results in the order of ``arguments``.
    ``function`` and its arguments must pickle (submitit uses cloudpickle: a script's own functions travel by value)."""
    if not arguments:
        return []
    if options.executor == "local":
        with ProcessPoolExecutor(max_workers=options.jobs) as pool:
            return [future.result() for future in [pool.submit(function, *args) for args in arguments]]
    executor = submitit_executor(options)
    jobs = executor.map_array(function, *zip(*arguments))
    print(f"submitted {len(jobs)} {options.executor} jobs ({', '.join(job.job_id for job in jobs)}); logs in "
          f"{options.submitit_folder}", flush=True)  # fmt: skip
    return [job.result() for job in jobs]


def submitit_executor(options: argparse.Namespace):
    """A ``submitit.AutoExecutor`` for Slurm or for local subprocesses, with the run's resources."""
    import submitit  # the [cluster] extra: only the submitit executors need it

    cluster = "local" if options.executor == "submitit-local" else "slurm"
    executor = submitit.AutoExecutor(folder=options.submitit_folder / "%j", cluster=cluster)
    executor.update_parameters(
        name="weakpose-study", timeout_min=options.slurm_time, cpus_per_task=threads_per_run(options),
        mem_gb=options.slurm_mem_gb, gpus_per_node=options.slurm_gpus, slurm_array_parallelism=options.jobs,
        **({"slurm_partition": options.slurm_partition} if options.slurm_partition else {}),
    )  # fmt: skip
    return executor
