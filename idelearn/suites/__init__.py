"""Benchmark suites: each is `run(suite_config, report, log)` filling one Report."""

from __future__ import annotations

from . import paper1_accuracy, paper1_timing, paper2


def smoke(cfg, report, log) -> None:
    """The same pipelines on tiny settings (run in `make test`)."""
    from ..config import Paper1AccuracySuite, Paper1TimingSuite, Paper2Suite

    paper1_timing.run(Paper1TimingSuite(horizons=[1.0, 2.0], t_train=0.5, train_epochs=2, fe_max_horizon=2.0,
                                        coarse_steps=[0.1, 0.05], matrix_sizes=[1, 2], cost_steps=[200, 400],
                                        cache_dir=cfg.cache_dir),
                      report, log)
    paper1_accuracy.run(Paper1AccuracySuite(lstm_epochs=2, direct_rnn_epochs=2, dyson_t_train=0.5, dyson_t_final=1.0,
                                            dyson_multi_n_traj=3, matrix_t_train=0.5, matrix_t_final=1.0,
                                            matrix_multi_n_traj=3, reference_order=4, cache_dir=cfg.cache_dir),
                        report, log)
    paper2.run(Paper2Suite(timing_epochs=1, timing_n_traj=6, direct_rnn_epochs=1, nie_epochs=1, anie_epochs=1,
                           spirals_path="/nonexistent", spirals_n_train=8, context=10, cache_dir=cfg.cache_dir,
                           small=True), report, log)


def collect(cfg, report, log) -> None:
    from ..report.collect import collect as collect_runs

    rows, table = collect_runs(cfg.dir)
    report.heading(f"Runs collected from {cfg.dir}")
    report.text(table)
    report.results["runs"] = rows


SUITES = {"paper1_timing": paper1_timing.run, "paper1_accuracy": paper1_accuracy.run, "paper2": paper2.run,
          "smoke": smoke, "collect": collect}
