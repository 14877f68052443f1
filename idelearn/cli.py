"""`idelearn <command> [hydra overrides]`: argv[1] picks the command, Hydra does the rest.

This module and idelearn/commands/ are the only places that see DictConfig.
Bad input (a wrong key, type or value) is reported as one line on stderr with
exit code 2 and no traceback.
"""

from __future__ import annotations

import importlib
import sys
import unicodedata

import hydra
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf.errors import MissingMandatoryValue, ValidationError

from . import config
from .config import CONFIG_MODULE, compose_error_line
from .errors import RunFailure, UserError
from .models.registry import MODELS

COMMANDS = {
    "generate": "solve an equation and write dataset.npz + dataset.json",
    "train": f"train a model ({', '.join(MODELS)}) on a dataset",
    "extrapolate": "continue a trained model's trajectories past its training window",
    "benchmark": "run a benchmark suite and write report.md + results.json",
}
# Hydra flags that print information instead of running the command
INFO_FLAGS = ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--resolve", "--shell-completion", "-sc")
MULTIRUN_FLAGS = ("-m", "--multirun")
GROUPS = ("dataset", "solver", "model", "trainer", "device", "suite")  # config nodes that are schema objects


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: idelearn <command> [key=value ...] [-m]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    lines += ["", "`idelearn <command> --help` shows the config groups and options of a command."]
    return "\n".join(lines)


def one_line(message: str) -> str:
    """`message` on one line: line breaks and other control characters (e.g. in a file name) escaped."""
    return "".join(ascii(c)[1:-1] if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                   for c in str(message))


def fail(message: str) -> None:
    print(f"idelearn: error: {one_line(message)}", file=sys.stderr)
    sys.exit(2)


def sweep_checks(overrides: list[str]) -> list[list[str]]:
    """Override lists that cover every value of a sweep (`key=a,b,c`) once: each value with the others' first.

    Checking these costs one composition per value rather than one per job of the sweep.
    """
    parsed = OverridesParser.create().parse_overrides(overrides)
    choices = []
    for text, override in zip(overrides, parsed):
        values = [text]
        if override.is_sweep_override():
            key = text.split("=", 1)[0]
            try:
                values = [f"{key}={v}" for v in override.sweep_string_iterator()]
            except Exception:  # a sweep Hydra expands later (e.g. glob): leave it to Hydra
                values = []
        choices.append(values)
    base = [values[0] for values in choices if values]
    combos = [base]
    index = 0
    for values in choices:
        if not values:
            continue
        combos += [base[:index] + [v] + base[index + 1:] for v in values[1:]]
        index += 1
    return combos


def precheck(command: str, overrides: list[str], multirun: bool = False) -> None:
    """Compose the config up front so bad overrides fail with exit 2, not a Hydra traceback.

    For a sweep (-m), every value of every swept key is checked before any job starts.
    """
    plain = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    combo = plain  # what the error names when the sweep itself cannot be parsed
    try:
        combos = sweep_checks(plain) if multirun else [plain]
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            for combo in combos:
                cfg = compose(config_name=command, overrides=combo)
                # value checks (dt > 0, ...) of the schemas, top-level keys included, before any job starts
                config.to_object(cfg)
    except Exception as exc:  # any composition failure is an input error here
        line = compose_error_line(exc)
        bad = unparsable(combo)  # Hydra's grammar errors quote the value, not the key
        if bad is None and not names_a_key(line, combo):
            bad = culprit(command, combo)
        fail(line if bad is None else f"{bad}: {line}")


def override_key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def names_a_key(line: str, overrides: list[str]) -> bool:
    """Whether `line` names the key of one of `overrides` as a key (not just the word, e.g. in
    "possible interpolation keys: solver, dataset")."""
    keys = [override_key(o) for o in overrides if override_key(o)]
    return any(line.startswith(f"{k}:") or f"{k}=" in line or f"full_key: {k}" in line or f"'{k}'" in line
               or f"'{k}/" in line for k in keys)


def unparsable(overrides: list[str]) -> str | None:
    """The first override that Hydra's override grammar rejects, if any."""
    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except Exception:
            return override
    return None


def culprit(command: str, overrides: list[str]) -> str:
    """The first override that makes composition fail (for errors that name no key, e.g. `dataset=0`)."""
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        for i, override in enumerate(overrides):
            try:
                compose(config_name=command, overrides=overrides[: i + 1])
            except Exception:
                return override
    return " ".join(overrides)


def input_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input once Hydra has composed the config (e.g. a missing `???` value)."""
    return UserError, MissingMandatoryValue, ValidationError


def out_of_memory(exc: BaseException) -> bool:
    """numpy's MemoryError, or torch's allocation failures (a RuntimeError on the CPU, OutOfMemoryError on CUDA)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or any(s in text for s in ("out of memory", "can't allocate memory",
                                                                   "not enough memory"))


def run_command(command: str, overrides: list[str]) -> None:
    module = importlib.import_module(f"idelearn.commands.{command}")
    module.register()
    multirun = any(a in MULTIRUN_FLAGS for a in overrides)
    if not any(a in INFO_FLAGS or a.startswith("--") and a not in MULTIRUN_FLAGS for a in overrides):
        precheck(command, [a for a in overrides if a not in MULTIRUN_FLAGS], multirun)
    errors = input_errors()

    def task(cfg) -> None:
        try:
            module.run(cfg)
        except errors as exc:
            fail(compose_error_line(exc) if not isinstance(exc, errors[0]) else str(exc))
        except RunFailure as exc:  # the run itself failed (a blow-up, a diverging training): exit 1
            print(f"idelearn: failed: {one_line(exc)}", file=sys.stderr)
            sys.exit(1)
        except (MemoryError, RuntimeError) as exc:  # sizes within the limits that this machine cannot hold
            if not out_of_memory(exc):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            print(f"idelearn: failed: out of memory ({one_line(first[:200])}); choose smaller sizes", file=sys.stderr)
            sys.exit(1)

    # hydra.main reads sys.argv; restore it and Hydra's global state afterwards, so that
    # main() can be called again in the same process (tests, notebooks)
    saved_argv = sys.argv
    sys.argv = [f"idelearn {command}", *overrides]
    try:
        hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name=command)(task)()
    finally:
        sys.argv = saved_argv
        GlobalHydra.instance().clear()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else 2)
    command, overrides = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"idelearn: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        sys.exit(2)
    run_command(command, overrides)


if __name__ == "__main__":
    main()
