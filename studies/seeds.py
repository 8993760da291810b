#!/usr/bin/env python
"""Seeds: how much the main job's weak/strong ratio moves with the training seed alone.

    python studies/seeds.py                     # prints the plan and trains nothing
    python studies/seeds.py --run               # strong and weak at the main job's settings, seeds 0, 1, 2
    python studies/seeds.py --run --seeds 0 1 2 3 4 --jobs 2
    python studies/seeds.py --table             # the committed table, re-printed from its records

Each seed trains the main job's strong and weak models (``reproduce.QUICK_TRAINING``: width 256, 16 epochs of 500
frames, weak at λ = 0.8 in cm/px) on the same default synthetic set (generated with seed 0, as the main job's):
the seed sets the initial weights, the batches, the views sampled and the dropout masks. Every run picks its
checkpoint on validation (the weak one on its validation loss, no 3D) and is evaluated on validation and test; the
table gives each seed's test MPJPE, the weak/strong ratios on test and validation, and their mean ± standard
deviation and range. The runs are those of ``units_lambda.py`` (same records, same ``--output`` cache, same
executors); the table and every record go to ``--tables`` (``studies/tables/seeds.md`` and ``.json``, committed),
which the main job reads to print its own ratio beside this spread.
"""

from __future__ import annotations

import argparse

from units_lambda import add_study_arguments, publish, quick_budget, run_all, run_name
from weakpose_lite.configs import CommandParser, run_command
from weakpose_lite.metrics import PROTOCOL
from weakpose_lite.results import seed_ratios, spread

SEEDS = (0, 1, 2)
TABLE = "seeds"


def seed_configs(seeds: list[int]) -> list:
    """Strong and weak at the main job's settings, for each seed, in that order."""
    return [quick_budget(mode=mode, seed=seed) for seed in seeds for mode in ("strong", "weak")]


def table(records: list[dict]) -> str:
    """Markdown: one row per seed, then the mean ± sd (min–max) of each column."""
    rows = seed_ratios(records)
    lines = [
        "| seed | strong test MPJPE | weak test MPJPE | weak/strong test | weak/strong test P-MPJPE | weak/strong validation |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(f"| {row['seed']} | {row['strong_test']:.1f} | {row['weak_test']:.1f} | {row['test']:.3f} | "
                     f"{row['test_p_mpjpe']:.3f} | {row['validation']:.3f} |")  # fmt: skip
    columns = [("strong_test", 1), ("weak_test", 1), ("test", 3), ("test_p_mpjpe", 3), ("validation", 3)]
    cells = [spread([row[key] for row in rows], digits) for key, digits in columns]
    lines.append(f"| {len(rows)} seeds: mean ± sd (min–max) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag with its default in ``--help``."""
    parser = CommandParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_study_arguments(parser, TABLE, "results/studies/runs", SEEDS)
    parser.set_defaults(synthetic_size="default")  # run_all's data: the main job's set
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 when done, 2 with one line ``error: ...`` for a bad flag (``--debug``: the traceback)."""
    return run_command(_study, argv)


def _study(argv: list[str]) -> None:
    arguments = build_parser().parse_args(argv)
    if arguments.table:
        print((arguments.tables / f"{TABLE}.md").read_text(), end="")
        return
    if len(set(arguments.seeds)) < 2:
        raise ValueError(f"--seeds must name at least two different seeds for a spread, got {arguments.seeds}")
    configs = seed_configs(arguments.seeds)
    if not arguments.run:
        print(f"would train, at the main job's settings, into {arguments.output} (runs with a record are skipped):")
        for config in configs:
            print(f"  {run_name(config)}")
        print("add --run to train them (python studies/seeds.py --help for the options)")
        return
    records = run_all(configs, arguments)
    header = f"Study `{TABLE}` (`python studies/seeds.py {' '.join(argv)}`)\n{PROTOCOL}\n\n"
    text = header + table(records)
    publish(arguments.tables, TABLE, text, records)


if __name__ == "__main__":
    raise SystemExit(main())
