"""The minimal typer app with one typed option: what typer costs once it converts a parameter."""

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer()


@app.command()
def main(scale: float = 2.0) -> None:
    x = np.array([1.0, 2.0, 3.0])
    table = Table("x", "d mean(scale x) / dx")
    for value in x:
        table.add_row(f"{value:g}", f"{scale / len(x):.4g}")
    Console().print(table)


if __name__ == "__main__":
    app()
