import subprocess
import sys

import pytest


@pytest.fixture
def idelearn(tmp_path):
    """Run the CLI in a subprocess from tmp_path; returns CompletedProcess."""

    def run(*args, check=False):
        proc = subprocess.run([sys.executable, "-m", "idelearn.cli", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        if check and proc.returncode != 0:
            raise AssertionError(f"idelearn {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
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
