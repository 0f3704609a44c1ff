"""Command-line interface: `dualsym check`, `dualsym demo`, `dualsym fmnist`.

Exit codes: 0 success, 2 invalid input (config, arguments, files), 1 internal failure.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from dualsym.errors import InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Symmetries of neural-network densities from parameter-space correlators.",
)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    # An explicit callback keeps `dualsym fmnist` a subcommand even while fmnist is
    # the only command registered; Typer would otherwise run it as the root command.
    pass


def _register_training_commands() -> None:
    from dualsym.training.cli import fmnist

    app.command("fmnist")(fmnist)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map errors to exit codes (2 for invalid input)."""
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    _register_training_commands()
    try:
        app(args=argv, standalone_mode=False)
    except InputError as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False)
        return 2
    except typer.Exit as exit_:
        return exit_.exit_code
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        return 130
    except Exception as error:  # click's usage errors carry their own exit code
        import click

        if isinstance(error, click.ClickException):
            error.show()
            return 2 if isinstance(error, click.UsageError) else error.exit_code
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
