"""What a training run records in its folder: the effective configuration, the label budget,
one JSON line per log step and validation (metrics.jsonl) and, when the tensorboard package is
installed, TensorBoard events. Only the main rank writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from occle_core.io.atomic import atomic_write_bytes
from occle_core.train.config import TrainConfig
from occle_core.typed_config import to_mapping


class RunLog:
    """The records of one run.

    Args:
        run_dir: the run folder (created by `start`).
        writes: False on the ranks other than the main one (they record nothing).
    """

    def __init__(self, run_dir: Path, writes: bool = True):
        self.run_dir = run_dir
        self.writes = writes
        #: Every record logged so far (and, after `keep_until`, those of the resumed run).
        self.history: list[dict[str, Any]] = []
        self._tensorboard: Any = None

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    def start(self, config: TrainConfig, budget_manifest: dict[str, Any]) -> None:
        """Write config.yaml and label_budget.json (atomically) and open TensorBoard."""
        if not self.writes:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(
            self.run_dir / "config.yaml",
            yaml.safe_dump(to_mapping(config), sort_keys=False).encode(),
        )
        atomic_write_bytes(
            self.run_dir / "label_budget.json", json.dumps(budget_manifest, indent=2).encode()
        )
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional; metrics.jsonl always exists
            return
        self._tensorboard = SummaryWriter(str(self.run_dir / "tensorboard"))

    def log(self, record: dict[str, Any]) -> None:
        """Append a record ({"step": int, name: value, ...}) to the history, metrics.jsonl and
        TensorBoard (its numbers, against its step)."""
        if not self.writes:
            return
        self.history.append(record)
        with self.metrics_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self._tensorboard is not None:
            for key, value in record.items():
                if isinstance(value, int | float) and key != "step":
                    self._tensorboard.add_scalar(key, value, record["step"])

    def keep_until(self, step: int) -> None:
        """On resume: reload metrics.jsonl and drop what was logged after `step` (the step of
        the checkpoint), which the resumed run logs again."""
        if not self.writes or not self.metrics_path.exists():
            return
        records = [json.loads(line) for line in self.metrics_path.read_text().splitlines()]
        self.history = [r for r in records if r["step"] <= step]
        self.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in self.history))

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None
