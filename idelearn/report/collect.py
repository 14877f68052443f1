"""Tabulate a sweep: one row per job of a multirun directory, its overrides + its metrics.json.

    rows, table = collect("outputs/train/multirun/2026-01-01_12-00-00_000000")

A sweep directory holds one subdirectory per job (`0/`, `1/`, ...), each with
`.hydra/overrides.yaml` (the job's own `key=value` overrides) and, for train and
extrapolate, `metrics.json`. A job without metrics.json (failed, still running,
or a generate job) gets a row with status "no metrics.json".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

from ..errors import UserError

__all__ = ["collect", "job_dirs", "markdown_table"]


def job_dirs(multirun_dir: Path) -> list[Path]:
    """The job directories of a sweep (numeric names in numeric order); a single run dir is its own job."""
    root = Path(multirun_dir).expanduser()
    if not root.is_dir():
        raise UserError(f"dir: {root} is not a directory")
    if (root / ".hydra").is_dir():
        return [root]
    jobs = [p for p in root.iterdir() if p.is_dir() and (p / ".hydra").is_dir()]
    if not jobs:
        raise UserError(f"dir: {root} holds no Hydra job directories (expected <job>/.hydra/overrides.yaml)")
    return sorted(jobs, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


def read_overrides(job: Path) -> dict:
    """`key=value` overrides of one job, values parsed as YAML scalars (0.5 -> float, dyson -> str)."""
    path = job / ".hydra" / "overrides.yaml"
    if not path.exists():
        return {}
    items = yaml.safe_load(path.read_text()) or []
    out = {}
    for item in items:
        key, _, value = str(item).partition("=")
        try:
            parsed = yaml.safe_load(value) if value else value
        except yaml.YAMLError:
            parsed = value
        out[key] = parsed if isinstance(parsed, (int, float, str, bool)) or parsed is None else value
    return out


def read_metrics(job: Path) -> dict | None:
    path = job / "metrics.json"
    if not path.exists():
        return None
    try:
        metrics = json.loads(path.read_text())
    except ValueError:
        return None
    return metrics if isinstance(metrics, dict) else None


def collect(multirun_dir: str | Path) -> tuple[list[dict], str]:
    """One row per job: {"job": name, "status": ..., **overrides, **metrics}, and a Markdown table of them.

    The table shows the job, its overrides, and the scalar
    metrics (list-valued metrics such as mae_per_time stay in the rows only).
    """
    rows, override_keys, metric_keys = [], [], []
    for job in job_dirs(multirun_dir):
        overrides = read_overrides(job)
        metrics = read_metrics(job)
        row = {"job": job.name, "status": "ok" if metrics is not None else "no metrics.json", **overrides}
        for key in overrides:
            if key not in override_keys:
                override_keys.append(key)
        for key, value in (metrics or {}).items():
            if key in row:  # a metric named like an override: keep both
                key = f"metrics.{key}"
            row[key] = value
            if key not in metric_keys and not isinstance(value, (list, dict)):
                metric_keys.append(key)
        rows.append(row)
    return rows, markdown_table(rows, ["job", *override_keys, *metric_keys, "status"])


def fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"
