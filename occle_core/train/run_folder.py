"""A training run's folder: never overwritten by accident, resumed only as the run it is.

`occle train --run RUN` refuses a folder that already holds a run unless `--resume` (continue
it) or `--force` (delete its files and start over) is given. `--resume` continues the run
recorded in RUN/config.yaml: overrides may only change how it is carried out (how long, where,
how often it logs), never what it learns from (data, budget, model, objective, ...); the
accepted changes are appended to RUN/resumes.jsonl. Temporary files left by a run killed while
writing a checkpoint are removed.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from occle_core.errors import ConfigError
from occle_core.train.config import TrainConfig, load_train_config
from occle_core.typed_config import apply_overrides, from_mapping, read_yaml, to_mapping

#: What a run writes into its folder.
RUN_FILES = ("config.yaml", "label_budget.json", "metrics.jsonl", "checkpoints", "tensorboard")
#: Keys `--resume` may change: they change how long, where and how visibly the run goes on.
RESUMABLE_KEYS = frozenset(
    {"epochs", "max_steps", "device", "threads", "validate_every", "log_every"}
)
RESUMES_FILE = "resumes.jsonl"


@dataclass
class RunStart:
    """How `prepare_run_folder` left the folder.

    Attributes:
        config: the configuration to train with.
        resuming: the folder holds a run to continue.
        changes: dotted key -> (recorded, new) of the accepted resume overrides.
        removed_temporaries: leftover temporary files removed.
    """

    config: TrainConfig
    resuming: bool
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    removed_temporaries: list[Path] = field(default_factory=list)


def _flat(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_files(run_dir: Path) -> list[str]:
    """The run files present in `run_dir`."""
    return [name for name in RUN_FILES if (run_dir / name).exists()]


def _remove_temporaries(run_dir: Path) -> list[Path]:
    """Atomic writers' leftovers (`.name.*.tmp`) of a run killed mid-write."""
    found = [*run_dir.glob(".*.tmp"), *(run_dir / "checkpoints").glob(".*.tmp")]
    for path in found:
        path.unlink(missing_ok=True)
    return found


def _resume_config(
    run_dir: Path, config_file: str | None, overrides: Sequence[str]
) -> tuple[TrainConfig, dict[str, tuple[Any, Any]]]:
    recorded_file = run_dir / "config.yaml"
    recorded = read_yaml(recorded_file)
    recorded_config = from_mapping(TrainConfig, recorded, str(recorded_file))
    if config_file is None:
        config = from_mapping(
            TrainConfig,
            apply_overrides(recorded, overrides, "overrides"),
            f"{recorded_file} + overrides",
        )
    else:
        config = load_train_config(config_file, overrides)
    old, new = _flat(to_mapping(recorded_config)), _flat(to_mapping(config))
    changes = {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))}
    changes = {k: v for k, v in changes.items() if v[0] != v[1]}
    refused = {k: v for k, v in changes.items() if k not in RESUMABLE_KEYS}
    if refused:
        key, (before, after) = next(iter(refused.items()))
        raise ConfigError(
            "--resume",
            f"would change {key} of the run in {run_dir} ({before!r} -> {after!r})"
            + (f" and {len(refused) - 1} more key(s)" if len(refused) > 1 else ""),
            f"the recorded value; only {', '.join(sorted(RESUMABLE_KEYS))} may change "
            "(start a new run for anything else)",
        )
    return config, changes


def prepare_run_folder(
    run_dir: str | Path,
    config_file: str | None,
    overrides: Sequence[str],
    resume: bool,
    force: bool,
) -> RunStart:
    """Check (and with `force` clear) a run folder before training.

    Args:
        run_dir: the run folder.
        config_file: the --config given (path or shipped name), or None.
        overrides: key=value overrides.
        resume: continue the run recorded in the folder.
        force: delete the run files already in the folder and start over.

    Raises:
        ConfigError: a file where the folder should be, a folder holding a run without
            --resume or --force, --resume with changes to what the run learns from, or
            --resume together with --force.
    """
    run_dir = Path(run_dir)
    if resume and force:
        raise ConfigError("--resume/--force", "both given", "one: continue the run, or restart it")
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError("--run", f"{run_dir} is a file", "a run folder (existing or new)")
    present = run_files(run_dir) if run_dir.is_dir() else []
    removed = _remove_temporaries(run_dir) if run_dir.is_dir() else []
    if resume and (run_dir / "config.yaml").is_file():
        config, changes = _resume_config(run_dir, config_file, overrides)
        if changes:
            record = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "changes": {k: {"recorded": a, "now": b} for k, (a, b) in changes.items()},
            }
            with (run_dir / RESUMES_FILE).open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(record) + "\n")
        return RunStart(config, True, changes, removed)
    if present and not force:
        if resume:
            raise ConfigError(
                "--resume",
                f"{run_dir} holds run files ({', '.join(present)}) but no config.yaml",
                "a run to continue (--force deletes these files and starts over)",
            )
        raise ConfigError(
            "--run",
            f"{run_dir} already holds a run ({', '.join(present)})",
            "--resume to continue it, --force to delete it and start over, or a new folder",
        )
    if present:
        for name in (*present, RESUMES_FILE):
            target = run_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    return RunStart(load_train_config(config_file, overrides), False, {}, removed)
