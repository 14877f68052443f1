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
