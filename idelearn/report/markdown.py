"""A benchmark report: markdown sections, tables and figures, plus every number in results.json."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np


def machine_info() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"
    return str(value)


class Report:
    def __init__(self, title: str, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.lines = [f"# {title}", ""]
        self.results: dict = {"machine": machine_info()}
        m = self.results["machine"]
        self.text(f"Machine: {m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}; "
                  f"torch {m['torch']}, numpy {m['numpy']}, Python {m['python']}; "
                  f"device: {m['cuda'] or 'CPU only'}. Every number below was measured in this run; "
                  "numbers from the papers appear only in columns labelled \"paper reports\".")

    def heading(self, text: str, level: int = 2) -> None:
        self.lines += ["#" * level + " " + text, ""]

    def text(self, text: str) -> None:
        self.lines += [text, ""]

    def table(self, rows: list[dict], columns: list[str] | None = None) -> None:
        if not rows:
            self.text("(no rows)")
            return
        columns = columns or list(rows[0])
        self.lines.append("| " + " | ".join(columns) + " |")
        self.lines.append("|" + "---|" * len(columns))
        for row in rows:
            self.lines.append("| " + " | ".join(fmt(row.get(c)) for c in columns) + " |")
        self.lines.append("")

    def figure(self, path: Path, caption: str) -> None:
        self.lines += [f"![{caption}]({Path(path).name})", "", f"*{caption}*", ""]

    def write(self) -> tuple[Path, Path]:
        md, js = self.out_dir / "report.md", self.out_dir / "results.json"
        md.write_text("\n".join(self.lines))
        js.write_text(json.dumps(self.results, indent=2, default=float))
        return md, js
