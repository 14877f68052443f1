"""idelearn benchmark suite=<name>: run a suite, write report.md + results.json + figures."""

from __future__ import annotations

import datetime

from hydra.core.hydra_config import HydraConfig

from ..config import to_object
from ..report.markdown import Report
from ..suites import SUITES
from .common import limit_threads, log, run_dir


def run(cfg) -> None:
    suite = to_object(cfg.suite)
    limit_threads(to_object(cfg.device).threads)
    out = run_dir()
    report = Report(f"idelearn benchmark: {suite.name}", out)
    hydra = HydraConfig.get()
    command = " ".join(["idelearn benchmark", *hydra.overrides.task])
    # the suite's config file names the results (paper1_levers runs the paper1_accuracy suite)
    report.results["run"] = {"suite": hydra.runtime.choices.get("suite", suite.name), "command": command,
                             "date": datetime.date.today().isoformat()}
    report.text(f"Produced by `{command}`.")
    SUITES[suite.name].run(suite, report, log)
    md, js = report.write()
    log.info("wrote %s and %s", md, js)
