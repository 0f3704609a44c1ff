"""`dualsym fmnist`: placeholder until the Fashion-MNIST study lands."""

import typer


def fmnist() -> None:
    """Train on Fashion-MNIST from initializations with broken readout symmetry."""
    raise typer.Exit(1)
