"""The gradcli command's entry point (also `python -m gradcli`).

It imports the CLI inside a handler, so Ctrl-C while numpy and typer load ends with
status 130 and no traceback, as it does later on.
"""

import gc
import os
import sys


def keep_freed_memory() -> None:
    """Have glibc keep freed memory for reuse instead of handing it back at once.

    By default glibc maps each large array fresh and unmaps it when freed, so every new
    intermediate array pays a page fault per page on first touch: about half the time of
    a 1000-row Jacobian and a third of a 10^7-entry gradient. A command that ends in
    seconds gains by keeping the memory: the peak is the same, it is returned at exit.
    Only the command does this; importing gradcli as a library leaves malloc alone.
    """
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return
    except (AttributeError, ValueError, OSError):
        return
    import ctypes

    libc = ctypes.CDLL(None)
    m_trim_threshold, m_mmap_max = -1, -4  # mallopt parameters from glibc's malloc.h
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2**31 - 1)


def collect_from_here() -> None:
    """The cyclic collector back on, for what the command makes; what start-up made stays out of its walks."""
    gc.freeze()
    gc.enable()


def main() -> None:
    # Importing numpy, typer and gradcli makes some 10^5 objects and no garbage: the cyclic
    # collector, which would walk them every few hundred allocations, waits until they are
    # loaded, and then leaves them out of its walks (freeze).
    gc.disable()
    try:
        keep_freed_memory()
        args = sys.argv[1:]
        if args[:1] == ["run"] and len(args) > 1 and (args[1] == "-" or not args[1].startswith("-")):
            from gradcli.cli.runner import RUN_OPTIONS, run as run_file

            if not any(a in RUN_OPTIONS or a.startswith("--graph=") for a in args[1:]):
                # `gradcli run FILE ARGS` with none of run's options: the file runs without loading the
                # other commands (a third of the start-up), as the command would run it.
                collect_from_here()
                raise SystemExit(run_file(args[1], args[2:]))
        from gradcli.cli.app import main as run

        collect_from_here()
        run()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
