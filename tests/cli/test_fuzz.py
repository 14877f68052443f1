"""Property-based tests of the CLI: every key of every config survives hostile values.

For each command, hypothesis draws a key (every field of every schema of every group option the
command composes, its top-level keys and its group choices: tests/cli/hostile.py) and a hostile
value (nan, ±inf, subnormal and huge floats, ints at the limits, wrong types, strings, unicode,
nested lists, nothing), runs `idelearn <command>` in-process on a cheap base config with that value,
and checks what README "Bad input" promises: exit code 0, 1 or 2; no traceback; exit 2 with one
line naming the key and nothing written; exit 1 with one line and only results marked partial;
exit 0 with the command's results, finite.

Profiles (tests/conftest.py): `idelearn` (make test; a fifth of the examples below, reproducible) and
`idelearn-slow` (make test-fuzz; 10x the examples below). Each crash found became a named regression test in
tests/cli/test_fuzz_regressions.py.
"""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest
import torch
from hypothesis import event, given, note, reject, settings
from hypothesis import strategies as st

from . import hostile as H

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

# examples per property per 100 of the profile's max_examples (make test: 20, so 12/10/8/6/6/6; make test-fuzz: 1000)
EXAMPLES = {"generate": 60, "train": 50, "extrapolate": 40, "benchmark": 30, "pairs": 30, "files": 30}
TOO_SLOW_S = 20.0  # an accepted value that runs longer than this is legitimately long: not judged


def examples(name: str) -> int:
    return max(1, EXAMPLES[name] * settings.default.max_examples // 100)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Inputs the base runs need: curves, a cache, an empty directory, a tiny IDE and curve train run."""
    d = tmp_path_factory.mktemp("fuzz")
    np.save(d / "curves.npy", np.random.default_rng(0).normal(size=(4, 12, 2)))
    (d / "empty").mkdir()
    out = {"curves": str(d / "curves.npy"), "cache": str(d / "cache"), "empty": str(d / "empty"),
           "ide_run": str(d / "ide"), "curve_run": str(d / "curves")}
    with H.threads_kept():  # the runs here use one thread (device.threads=1); the tests after, as before
        assert H.invoke(["train", "model=lstm_operator", "dataset=dyson", f"dataset.t_final={H.IDE_T_FINAL}",
                         *H.shrink("model", "lstm_operator"), f"trainer.cache_dir={out['cache']}",
                         "device.threads=1", f"hydra.run.dir={out['ide_run']}"]) == 0
        assert H.invoke(["train", "model=nie", "dataset=from_file", f"dataset.path={out['curves']}",
                         *H.shrink("model", "nie"), f"trainer.cache_dir={out['cache']}", "device.threads=1",
                         f"hydra.run.dir={out['curve_run']}"]) == 0
        yield out


_counter = itertools.count()


def run_and_judge(command, pairs, files, workdir, capsys):
    """Run `idelearn command` with each (key, token) of `pairs` on the base run of the first key."""
    args = H.base_overrides(pairs[0][0], files)
    for key, token in pairs:
        args = H.with_value(args, key, token, files)
    run_dir = workdir / f"run{next(_counter)}"
    note(f"idelearn {command} {' '.join(args)}")
    capsys.readouterr()
    shown: list[str] = []
    try:
        with H.time_limit(TOO_SLOW_S):
            code = H.invoke([command, *args, f"hydra.run.dir={run_dir}"], shown)
    except H.TooSlow:
        capsys.readouterr()
        event("too slow: not judged")
        reject()
    finally:
        torch.set_num_threads(1)  # device.threads=N changes the process's threads
    out, err = capsys.readouterr()
    err = "".join(f"{w}\n" for w in shown) + err  # Python warnings: a user sees them on stderr
    note(f"exit {code}; stderr tail: {err[-600:]}")
    event(f"exit {code}")
    H.judge(command, [k.name for k, _ in pairs], code, out, err, run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)


def key_and_token(keys):
    def token_for(key):
        if key.group is None and key.name in H.cli.GROUPS:  # group choice: a real option or a hostile one
            return st.one_of(st.sampled_from(H.options(key.name)), H.hostile_tokens())
        return H.hostile_tokens()

    return st.sampled_from(keys).flatmap(lambda key: token_for(key).map(lambda token: (key, token)))


def one_key_property(command):
    keys = H.all_keys(command)

    @settings(max_examples=examples(command))
    @given(case=key_and_token(keys))
    def prop(files, tmp_path, monkeypatch, capsys, case):
        monkeypatch.chdir(tmp_path)  # extrapolate's default run (the latest under outputs/train): none here
        run_and_judge(command, [case], files, tmp_path, capsys)

    return prop


test_generate_survives_any_value_of_any_key = one_key_property("generate")
test_train_survives_any_value_of_any_key = one_key_property("train")
test_extrapolate_survives_any_value_of_any_key = one_key_property("extrapolate")
test_benchmark_survives_any_value_of_any_key = one_key_property("benchmark")


@settings(max_examples=examples("pairs"))
@given(data=st.data())
def test_two_hostile_keys_at_once(files, tmp_path, monkeypatch, capsys, data):
    monkeypatch.chdir(tmp_path)
    command = data.draw(st.sampled_from(["generate", "train", "extrapolate"]), label="command")
    keys = H.all_keys(command)
    first = data.draw(key_and_token(keys), label="first")
    # the second key: one of the same group option, or a top-level key / group choice
    related = [k for k in keys if k != first[0] and ((k.group, k.option) == (first[0].group, first[0].option)
                                                     or k.group is None)]
    second = data.draw(key_and_token(related), label="second")
    run_and_judge(command, [first, second], files, tmp_path, capsys)


FILE_TARGETS = {  # (command, overrides with {file}, the key that names the file)
    "generate dataset.path": ("generate", ["dataset=from_file", "dataset.path={file}"], "dataset.path"),
    "train dataset.path": ("train", ["model=nie", *H.shrink("model", "nie"), "dataset=from_file",
                                     "dataset.path={file}", "trainer.cache_dir={cache}"], "dataset.path"),
    "extrapolate dataset.path": ("extrapolate", ["run={curve_run}", "dataset.path={file}"], "dataset.path"),
}


@settings(max_examples=examples("files"))
@given(data=st.data())
def test_bad_files_exit_2_naming_the_file(files, tmp_path, monkeypatch, capsys, data):
    """dataset.path and run= pointing at truncated, empty, wrong-dtype, wrong-shape, NaN-filled or huge
    files (made here, never committed): exit 2, one line naming the key and the file, nothing written."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    cut = data.draw(st.floats(0, 1), label="cut")
    folder = tmp_path / f"files{next(_counter)}"
    folder.mkdir()
    if data.draw(st.booleans(), label="checkpoint"):
        kind = data.draw(st.sampled_from(H.CHECKPOINT_KINDS), label="kind")
        path = folder / "model.pt"
        run = data.draw(st.sampled_from(["ide_run", "curve_run"]), label="trained")
        H.bad_checkpoint(kind, H.Path(files[run]) / "model.pt", rng, cut, path)
        command, args, key = "extrapolate", [f"run={data.draw(st.sampled_from([path, folder]), label='as')}"], "run"
    else:
        kind = data.draw(st.sampled_from(H.DATA_FILE_KINDS), label="kind")
        name, content = H.bad_data_file(kind, rng, cut)
        path = folder / name
        path.write_bytes(content)
        command, template, key = FILE_TARGETS[data.draw(st.sampled_from(sorted(FILE_TARGETS)), label="target")]
        args = [a.format(file=path, cache=files["cache"], curve_run=files["curve_run"]) for a in template]
    run_dir = tmp_path / f"run{next(_counter)}"
    note(f"{kind}: idelearn {command} {' '.join(args)}")
    capsys.readouterr()
    shown: list[str] = []
    with H.time_limit(TOO_SLOW_S):
        code = H.invoke([command, *args, "device.threads=1", f"hydra.run.dir={run_dir}"], shown)
    torch.set_num_threads(1)
    out, err = capsys.readouterr()
    err = "".join(f"{w}\n" for w in shown) + err
    note(f"exit {code}; stderr tail: {err[-600:]}")
    assert code == 2, f"{kind}: exit {code}\n{err[-2000:]}"
    H.judge(command, [key], code, out, err, run_dir)
    shutil.rmtree(folder, ignore_errors=True)
