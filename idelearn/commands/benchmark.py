"""idelearn benchmark suite=<name>: run a suite, write report.md + results.json + figures.

The report and its figures are written to a hidden folder of the run directory and moved into it
when the suite completes: a suite stopped by bad input or a failure leaves no results behind.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from .. import suites
from ..config import to_object
from ..report.markdown import Report
from ..suites import SUITES
from .common import limit_threads, log, run_dir


def register() -> None:
    suites.register()


def run(cfg) -> None:
    suite = to_object(cfg.suite)
    limit_threads(to_object(cfg.device).threads)
    out = run_dir()
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        report = Report(f"idelearn benchmark: {suite.name}", stage)
        hydra = HydraConfig.get()
        command = " ".join(["idelearn benchmark", *hydra.overrides.task])
        # the suite's config file names the results (paper1_levers runs the paper1_accuracy suite)
        report.results["run"] = {"suite": hydra.runtime.choices.get("suite", suite.name), "command": command,
                                 "date": datetime.date.today().isoformat()}
        report.text(f"Produced by `{command}`.")
        SUITES[suite.name].run(suite, report, log)
        report.write()
        for path in sorted(stage.iterdir()):
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    log.info("wrote %s and %s", out / "report.md", out / "results.json")
