"""`idelearn <command> [hydra overrides]`: argv[1] picks the command, Hydra does the rest.

This module and idelearn/commands/ are the only places that see DictConfig.
Bad input (a wrong key, type or value) is reported as one line on stderr with
exit code 2 and no traceback.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "generate": "solve an equation and write dataset.npz + dataset.json",
    "train": "train a model (lstm_operator, direct_rnn, dmd, nie, anie) on a dataset",
    "extrapolate": "continue a trained model's trajectories past its training window",
    "benchmark": "run a benchmark suite and write report.md + results.json",
}
CONFIG_MODULE = "idelearn.conf"
# Hydra flags that print information instead of running the command
INFO_FLAGS = ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i", "--resolve", "--shell-completion", "-sc")
MULTIRUN_FLAGS = ("-m", "--multirun")


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: idelearn <command> [key=value ...] [-m]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    lines += ["", "`idelearn <command> --help` shows the config groups and options of a command."]
    return "\n".join(lines)


def fail(message: str) -> None:
    print(f"idelearn: error: {message}", file=sys.stderr)
    sys.exit(2)


def compose_error_line(exc: BaseException) -> str:
    """One line from a Hydra/OmegaConf composition error (they span several lines)."""
    parts = []
    while exc is not None:
        text = str(exc).split("Config search path")[0].strip()
        if text:
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            line = lines[0]
            key = next((ln for ln in lines if ln.startswith("full_key:")), "")
            if key and key.split(":", 1)[1].strip() not in line:
                line += f" ({key})"
            if "Available options" in text:  # unknown group option: list the real ones
                options = [ln for ln in lines[2:] if not ln.startswith("schema")]
                line += f"; available: {', '.join(options)}"
            parts.append(line)
        exc = exc.__cause__
    return " <- ".join(dict.fromkeys(parts))


def precheck(command: str, overrides: list[str]) -> None:
    """Compose the config once up front so bad overrides fail with exit 2, not a Hydra traceback."""
    from hydra import compose, initialize_config_module

    plain = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    try:
        with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
            compose(config_name=command, overrides=plain)
    except Exception as exc:  # any composition failure is an input error here
        fail(compose_error_line(exc))


def run_command(command: str, overrides: list[str]) -> None:
    import hydra

    from . import config
    from .errors import UserError

    config.register()
    module = importlib.import_module(f"idelearn.commands.{command}")
    if not any(a in INFO_FLAGS or a in MULTIRUN_FLAGS or a.startswith("--") for a in overrides):
        precheck(command, overrides)

    def task(cfg) -> None:
        try:
            module.run(cfg)
        except UserError as exc:
            fail(str(exc))

    sys.argv = [f"idelearn {command}", *overrides]
    hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_MODULE}", config_name=command)(task)()


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
