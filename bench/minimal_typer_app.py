"""The start-up reference: a minimal typer app that imports numpy and rich and prints one table."""

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer()


@app.command()
def main() -> None:
    x = np.array([1.0, 2.0, 3.0])
    table = Table("x", "d mean(2x) / dx")
    for value, slope in zip(x, np.full(3, 2 / 3)):
        table.add_row(f"{value:g}", f"{slope:.4g}")
    Console().print(table)


if __name__ == "__main__":
    app()
