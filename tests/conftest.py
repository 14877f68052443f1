import os
import subprocess

import pytest
import torch
from threadpoolctl import threadpool_limits

from idelearn import cli

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs one worker per core: one thread each
    torch.set_num_threads(1)
    threadpool_limits(1)


@pytest.fixture
def idelearn(tmp_path, monkeypatch, capfd):
    """Run the CLI in this process from tmp_path (a subprocess would pay ~3 s of imports per run); returns
    a CompletedProcess with its exit code and what it printed. tests/cli/test_cli_basics.py runs the real
    entry point in a subprocess."""
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()

    def run(*args, check=False):
        capfd.readouterr()
        try:
            cli.main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            torch.set_num_threads(threads)  # device.threads=N sets the process's threads
        out, err = capfd.readouterr()
        proc = subprocess.CompletedProcess(["idelearn", *args], code, out, err)
        if check and code != 0:
            raise AssertionError(f"idelearn {' '.join(args)} failed:\n{out}\n{err}")
        return proc

    return run


# Property-based tests (tests/cli/test_fuzz.py): reproducible examples (derandomize, no database).
# A property's example count (test_fuzz.EXAMPLES) is given per 100 of the profile's max_examples.
# `idelearn` (make test): a fixed small budget, 48 examples over the 6 properties (each runs 6-12;
# measured on 2 shared cores: the fuzz file took 42-97 s, against 238 s with the 240 it drew before).
# `idelearn-slow` (make test-fuzz): the large budget, 2400 examples, 50x make test's.
def _register_hypothesis_profiles():
    import os

    from hypothesis import HealthCheck, settings

    common = dict(derandomize=True, database=None, deadline=None, print_blob=True,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                         HealthCheck.filter_too_much, HealthCheck.data_too_large])
    settings.register_profile("idelearn", max_examples=20, **common)
    settings.register_profile("idelearn-slow", max_examples=1000, **common)
    settings.load_profile(os.environ.get("IDELEARN_HYPOTHESIS_PROFILE", "idelearn"))


_register_hypothesis_profiles()
