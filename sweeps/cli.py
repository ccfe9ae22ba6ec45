"""The ``nmm`` command line: a thin layer that parses, calls the library and prints.

Errors print one line on stderr and exit with status 1 (``--debug`` shows the traceback).
"""
from __future__ import annotations

import contextlib
import functools
import logging
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click
import numpy as np
import pandas as pd

from .errors import SweepFailed

if TYPE_CHECKING:  # annotations only: the command line imports the library lazily, to start fast
    from distributed import Client

__all__ = ["main", "cli"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _friendly(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        ctx = click.get_current_context()
        debug = (ctx.find_root().params or {}).get("debug", False)
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted; `nmm resume STORE` continues a sweep", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 (the CLI's boundary)
            if debug:
                raise
            msg = str(exc).strip() or type(exc).__name__
            first, _, rest = msg.partition("\n")
            click.echo(f"error: {first}", err=True)
            if rest and isinstance(exc, SweepFailed):
                click.echo(rest, err=True)
            sys.exit(1)

    return wrapper


class _Cli(click.Group):
    """A group whose usage errors (a bad option value, an unknown choice) are one
    ``error: ...`` line on stderr with exit status 1, like every other error."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see `nmm {exc.ctx.command_path.partition(' ')[2]} --help`)".replace("  ", " ") if exc.ctx else ""
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(package_name="nmm-sweeps")
def cli(debug: bool) -> None:
    """Parameter sweeps of neural mass models."""


@contextlib.contextmanager
def _client(cluster: str | None) -> Iterator[Client]:
    """The profile's client; on Ctrl-C the workers' shutdown noise is silenced (the sweep
    is resumable, their tracebacks say nothing new)."""
    from .cluster import client_for

    with client_for(cluster) as client:
        try:
            yield client
        except KeyboardInterrupt:
            for name in ("distributed", "tornado", "asyncio"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            raise


@cli.command()
@click.argument("workflow", type=click.Path(dir_okay=False))
@click.option("--cluster", default=None, help="Profile name or file, or a scheduler address tcp://host:port.")
@click.option("--store", default=None, help="Store path (overrides storage.store).")
@click.option("--no-progress", is_flag=True, help="Do not draw the progress bar.")
@click.option("--max-points-per-axis", type=int, default=None, help="Try it small: at most N values per axis.")
@click.option("--simulation-time", type=float, default=None, help="Try it small: a shorter simulation.")
@_friendly
def run(workflow: str, cluster: str | None, store: str | None, no_progress: bool, max_points_per_axis: int | None,
        simulation_time: float | None) -> None:
    """Run the sweep of WORKFLOW.yaml, then its analysis and plots."""
    from .workflow import Workflow

    wf = Workflow.from_yaml(workflow)
    if max_points_per_axis or simulation_time:
        wf = wf.scaled(max_points_per_axis, simulation_time)
    if store:
        wf = wf.with_store(store)
    with _client(cluster) as client:
        result = wf.execute(client=client, progress=not no_progress)
    click.echo(f"store: {result.store}")
    for out in result.files:
        click.echo(f"wrote {out}")


@cli.command()
@click.argument("store")
@click.option("--cluster", default=None, help="Profile name or file, or a scheduler address.")
@click.option("--no-progress", is_flag=True)
@_friendly
def resume(store: str, cluster: str | None, no_progress: bool) -> None:
    """Finish the sweep in STORE: verify it, then compute the tiles not marked done and
    the tiles that failed verification."""
    import warnings

    from .runner import resume as _resume
    from .verify import StoreDamageWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StoreDamageWarning)
        try:
            with _client(cluster) as client:
                _resume(store, client=client, progress=not no_progress)
        finally:
            for w in caught:
                if isinstance(w.message, StoreDamageWarning):
                    rep = w.message.report
                    n = len(rep.damaged_tiles)
                    click.echo(f"repaired: {n} damaged tile{'s' * (n != 1)} computed again", err=True)
                    click.echo(rep.describe(), err=True)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    click.echo(f"store: {store} complete")


@cli.command()
@click.argument("store")
@click.option("--verify", "check", is_flag=True,
              help="Also check that every chunk of every done tile exists and decodes (exit status 1 if not).")
@_friendly
def status(store: str, check: bool) -> None:
    """Done and total tiles, diverged points, and the spec summary of STORE."""
    from .runner import sweep_status

    s = sweep_status(store)
    click.echo(f"store:   {s['store']}  ({s['name']})")
    click.echo(f"tiles:   {s['tiles_done']}/{s['tiles_total']} done  (tile shape {s['tile_shape']})")
    click.echo(f"points:  {s['points_ok']} ok, {s['points_diverged']} diverged, "
               f"{s['points_total'] - s['points_ok'] - s['points_diverged']} not computed, of {s['points_total']}")
    click.echo("dims:    " + ", ".join(f"{k}={v}" for k, v in s["dims"].items()))
    if "level" in s:
        click.echo(f"levels:  {s['level']} of {s['levels']} planned (adaptive: tiles and points so far; "
                   f"`nmm plot` draws it on the finest grid)")
    if s["done_unreadable"]:
        bad = s["done_unreadable"]
        click.echo(f"damaged: done mark of {len(bad)} tile{'s' * (len(bad) != 1)} unreadable (counted as not done: "
                   f"{', '.join(map(str, bad[:10]))}{' ...' if len(bad) > 10 else ''}); `nmm resume {store}` "
                   "computes them again")
    if check:
        from .verify import verify

        rep = verify(store)
        click.echo("verify:  " + rep.describe())
        if not rep.ok:
            click.echo(f"damaged tiles are computed again by `nmm resume {store}`", err=True)
            sys.exit(1)


@cli.command()
@click.argument("store")
@_friendly
def info(store: str) -> None:
    """The provenance of STORE: spec, model hash, package versions."""
    from .store import read_meta

    m = read_meta(store)
    a = m.attrs
    click.echo(f"created:    {a.get('nmm_created')}")
    click.echo(f"hash:       {a.get('nmm_hash')}  (spec {m.spec_hash[:12]}, model {m.model_hash[:12]})")
    click.echo(f"seed:       {a.get('nmm_seed')}")
    click.echo("versions:   " + ", ".join(f"{k} {v}" for k, v in json.loads(a.get("nmm_versions", "{}")).items()))
    click.echo("spec:")
    click.echo("  " + a.get("nmm_spec", "").rstrip().replace("\n", "\n  "))


@cli.command()
@click.argument("store")
@click.option("--force", is_flag=True,
              help="Also remove a lock from another host, or an old lock naming a live pid (never a running driver's).")
@_friendly
def unlock(store: str, force: bool) -> None:
    """Remove the lock of STORE left by a driver that is gone (after checking that it is)."""
    from .lock import lock_path
    from .lock import unlock as _unlock

    info = _unlock(store, force=force)
    if info is None:
        click.echo(f"no lock on {store}; nothing to do")
    else:
        click.echo(f"removed {lock_path(store)} ({info.describe()})")


@cli.command()
@click.argument("store")
@click.option("--kind", type=click.Choice(["orbit", "regime", "spectrum", "frequency", "power"]), required=True)
@click.option("--output", "output_name", default=None, help="Which output (default: the first).")
@click.option("-o", "out", required=True, type=click.Path(dir_okay=False), help="PNG file.")
@_friendly
def plot(store: str, kind: str, output_name: str | None, out: str) -> None:
    """Draw a figure of STORE: orbit diagram, regime map, spectrum or peak frequency."""
    from .plots import plot_store

    click.echo(f"wrote {plot_store(store, kind, output_name, out)}")


@cli.command()
@_friendly
def templates() -> None:
    """List nmm's model library."""
    import yaml

    from nmm.loader import LIBRARY

    for f in sorted(LIBRARY.glob("*.yaml")):
        data = yaml.safe_load(f.read_text()) or {}
        circuits = [k for k, v in data.items() if isinstance(v, dict) and v.get("base") == "CircuitTemplate"]
        for c in circuits:
            desc = (data[c].get("description") or "").strip().splitlines()
            name = f"nmm.templates.{f.stem}.{c}"
            click.echo(f"{name:<32} {desc[0] if desc else ''}")


def _param(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for v in values:
        path, sep, val = v.partition("=")
        if not sep:
            raise click.BadParameter(f"{v!r} is not path=value, e.g. pc/rpo_e_in/u=150")
        try:
            out[path.strip()] = float(val)
        except ValueError:
            raise click.BadParameter(f"value of {path!r} must be a number, got {val!r}") from None
    return out


@cli.command()
@click.argument("template")
@click.option("--param", "-p", "params", multiple=True, callback=_param, help="path=value (repeatable).")
@click.option("--output", "-O", "outputs", multiple=True, help="name=path of an output (repeatable); default: all states.")
@click.option("--time", "simulation_time", type=float, default=2.0, show_default=True)
@click.option("--dt", "step_size", type=float, default=1e-4, show_default=True)
@click.option("--sampling", "sampling_step_size", type=float, default=1e-3, show_default=True)
@click.option("--solver", default="rk4", show_default=True)
@click.option("--cutoff", type=float, default=0.0, show_default=True)
@click.option("-o", "out", required=True, type=click.Path(dir_okay=False), help="out.csv or out.nc")
@_friendly
def simulate(template: str, params: dict[str, float], outputs: tuple[str, ...], simulation_time: float,
             step_size: float, sampling_step_size: float, solver: str, cutoff: float, out: str) -> None:
    """Simulate TEMPLATE once and write the outputs (the PyRates tutorial from the shell)."""
    import nmm

    if not out.endswith((".csv", ".nc")):
        raise click.BadParameter(f"-o {out!r}: use a .csv or .nc file name")
    outs = dict(o.split("=", 1) for o in outputs) if outputs else None
    c = nmm.CircuitTemplate.from_yaml(template).update_var(node_vars=params)
    ds = c.simulate(None, simulation_time=simulation_time, step_size=step_size,
                    sampling_step_size=sampling_step_size, outputs=outs, solver=solver, cutoff=cutoff)
    if int(ds["status"].values[0]) != nmm.Status.OK:
        bad = next(v for v in ds.data_vars if v != "status" and not np.isfinite(ds[v].values).all())
        at = float(ds["time"].values[np.argmin(np.isfinite(ds[bad].values[0]))])
        raise nmm.NMMError(f"the simulation diverged: {bad} is not finite from t = {at:g} on; nothing was "
                           f"written to {out!r}. Use a smaller step_size or other parameter values.")
    if out.endswith(".csv"):
        names = [v for v in ds.data_vars if v != "status"]
        pd.DataFrame({n: ds[n].values[0] for n in names}, index=pd.Index(ds["time"].values, name="time")).to_csv(out)
    else:
        ds = ds.rename({v: str(v).replace("/", ".") for v in ds.data_vars})
        ds.isel(point=0).to_netcdf(out)
    click.echo(f"wrote {out}")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``nmm`` script."""
    cli.main(args=argv, prog_name="nmm")


if __name__ == "__main__":
    main()
