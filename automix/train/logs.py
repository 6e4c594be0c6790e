"""What a run writes about itself: metrics.csv, TensorBoard events and train.log (rank 0 only)."""

from __future__ import annotations

import csv
import logging
import math
from typing import Any

from automix.train.state import RunPaths
from daw_bridge.outputs import atomic_output

_CSV_FIELDS = [
    "step", "phase", "epoch", "loss", "terms", "lr", "grad_norm", "segments_per_s", "elapsed_s",
    "valid_l1", "valid_si_sdr", "baseline_loss", "baseline_l1", "baseline_si_sdr", "best",
]


class RunLog:
    """The run's logs in ``paths``; on processes other than rank 0 (``main=False``) it writes nothing."""

    def __init__(self, paths: RunPaths, main: bool) -> None:
        self.paths = paths
        self.info_main = main
        self._log_handler: logging.Handler | None = None
        self._saved_logging: tuple[int, list[tuple[logging.Handler, int]]] = (logging.NOTSET, [])
        self._tb: Any = None

    def open(self, start_step: int) -> None:
        """Start the text log and the metrics (kept up to ``start_step`` when resuming)."""
        self._setup_logging()
        self._csv_start(start_step)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        self._teardown_logging()

    def _setup_logging(self) -> None:
        if not self.info_main:
            return
        handler = logging.FileHandler(self.paths.log, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger("automix")
        self._saved_logging = (root.level, [(h, h.level) for h in root.handlers])
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            # the file gets INFO; the console keeps showing what it showed before
            shown = root.getEffectiveLevel()
            root.setLevel(logging.INFO)
            for h in root.handlers:
                if h is not handler and h.level < shown:
                    h.setLevel(shown)
        self._log_handler = handler

    def _teardown_logging(self) -> None:
        if self._log_handler is not None:
            root = logging.getLogger("automix")
            root.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
            level, handlers = self._saved_logging
            root.setLevel(level)
            for h, lvl in handlers:
                h.setLevel(lvl)

    def _csv_start(self, start_step: int) -> None:
        if not self.info_main:
            return
        rows: list[dict[str, str]] = []
        if self.paths.csv.is_file() and start_step > 0:
            with open(self.paths.csv, newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("step", "").isdigit() and int(r["step"]) <= start_step]
        with atomic_output(self.paths.csv, overwrite=True) as tmp:
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=_CSV_FIELDS, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(str(self.paths.tensorboard), purge_step=start_step if start_step else None)

    def row(self, row: dict[str, Any]) -> None:
        if not self.info_main:
            return
        with open(self.paths.csv, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=_CSV_FIELDS, extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self._tb is not None:
            for k, v in values.items():
                if v is not None and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)
