"""Where report notebooks and the page template come from: the installed package, or a user's file.

The shipped notebooks and the nbconvert template are package data
(``obskit/notebooks/*.ipynb``, ``obskit/templates/obskit``), found with
:mod:`importlib.resources`, so a wheel install runs reports from any directory.
A user's own notebook (``obskit report --notebook ./mine.ipynb``) runs the same way; start
one with ``obskit notebook copy health_report mine.ipynb``.

Examples
--------
>>> "health_report" in available_notebooks()
True
>>> resolve_notebook("health_report").name, resolve_notebook("trends").name
('health_report.ipynb', 'trends_report.ipynb')
"""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Any

from obskit.errors import ConfigError

__all__ = [
    "available_notebooks",
    "copy_notebook",
    "default_config",
    "find_config",
    "notebook_parameters",
    "resolve_notebook",
    "shipped_notebooks_dir",
    "template_dir",
]

_KEEP = ExitStack()  # keeps extracted package data alive for the process (zip installs only)


def _package_dir(name: str) -> Path:
    res = resources.files("obskit").joinpath(name)
    if isinstance(res, Path):
        return res
    return _KEEP.enter_context(resources.as_file(res))  # pragma: no cover - zipped installs


def shipped_notebooks_dir() -> Path:
    """The folder of the report notebooks shipped with obskit."""
    return _package_dir("notebooks")


def template_dir() -> Path:
    """The folder holding the ``obskit`` nbconvert template."""
    return _package_dir("templates")


def available_notebooks() -> list[str]:
    """Names of the shipped report notebooks (``health_report``, ``drift_report``...)."""
    return sorted(p.stem for p in shipped_notebooks_dir().glob("*.ipynb"))


def resolve_notebook(notebook: str | Path) -> Path:
    """A shipped notebook's name, or a path to a user's ``.ipynb``, as an existing file.

    Raises
    ------
    ConfigError
        Unknown name, a name that is a path in disguise, or a missing / non-notebook file.
    """
    text = str(notebook)
    looks_like_path = text.endswith(".ipynb") or os.sep in text or "/" in text
    if not looks_like_path:
        for stem in (text, f"{text}_report"):  # "trends" is trends_report
            path = shipped_notebooks_dir() / f"{stem}.ipynb"
            if text and text.isidentifier() and path.is_file():
                return path
        raise ConfigError(f"unknown notebook {text!r} (shipped: {', '.join(available_notebooks())}; "
                          "or give a path to an .ipynb file)")
    path = Path(text).expanduser()
    if path.suffix != ".ipynb":
        raise ConfigError("a notebook path must end in .ipynb", path=path)
    if not path.is_file():
        raise ConfigError("notebook not found", path=path)
    return path.resolve()


def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """The parameters cell's names and default values (literals only, never executed).

    Raises
    ------
    ReportError
        The notebook has no cell tagged ``parameters``, or a default is not a literal.
    """
    import ast

    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for a broken file
        raise ConfigError(f"not a readable notebook: {type(exc).__name__}", path=path) from None
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            out: dict[str, Any] = {}
            try:
                for node in ast.parse(cell.source).body:
                    if (isinstance(node, ast.Assign) and len(node.targets) == 1
                            and isinstance(node.targets[0], ast.Name)):
                        out[node.targets[0].id] = ast.literal_eval(node.value)
                    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
                        out[node.target.id] = ast.literal_eval(node.value)
            except (SyntaxError, ValueError) as exc:
                raise ConfigError(f"parameters cell: only literal defaults are allowed ({exc})", path=path) from None
            return out
    raise ConfigError("notebook has no cell tagged 'parameters'", path=path)


def copy_notebook(name: str, dest: str | Path, *, force: bool = False) -> Path:
    """Copy a shipped notebook to ``dest`` as the start of a user's own report.

    Raises
    ------
    ConfigError
        Unknown notebook, or ``dest`` exists and ``force`` is false.
    """
    src = resolve_notebook(name)
    out = Path(dest).expanduser()
    if out.is_dir():
        out = out / src.name
    if out.suffix != ".ipynb":
        raise ConfigError("the copy must end in .ipynb", path=out)
    if out.exists() and not force:
        raise ConfigError("already exists (use --force to overwrite)", path=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, out)
    return out


def find_config(config: str | Path | None = None, *, sample: bool = False) -> Path:
    """The config a command uses: the one given, else ``./obskit.toml``, else ``$OBSKIT_CONFIG``.

    Every CLI command that reads a config (``report``, ``check``, ``alerts``, ``dashboards``,
    ``schedule``) looks it up here, the same way. ``sample=True`` adds a last resort for
    notebooks opened in a source checkout (:func:`default_config`): the bundled sample day.
    A given path is returned as is (:func:`obskit.config.load_config` says if it is missing).

    Raises
    ------
    ConfigError
        Nothing found: one line naming where it looked.
    """
    if config:
        return Path(config)
    local = Path("obskit.toml")
    if local.is_file():
        return local
    env = os.environ.get("OBSKIT_CONFIG")
    if env:
        if not Path(env).expanduser().is_file():
            raise ConfigError(f"no config: $OBSKIT_CONFIG names {env}, which is not a file "
                              "(pass --config FILE, or fix the variable)")
        return Path(env).expanduser()
    if sample:
        checkout = Path(__file__).resolve().parents[2] / "data" / "samples" / "obskit.toml"
        if checkout.is_file():
            return checkout
    raise ConfigError(f"no config: no obskit.toml in {Path.cwd()} and $OBSKIT_CONFIG is not set "
                      "(pass --config FILE; `obskit sample --out day` writes a sample one)")


def default_config() -> Path:
    """The config a notebook or :func:`~obskit.report.section.open_report` uses when none is given.

    :func:`find_config`'s lookup (``./obskit.toml``, else ``$OBSKIT_CONFIG``), else — in a
    source checkout only — the bundled sample day's config, so the shipped notebooks open in
    Jupyter as they are. The CLI never falls back to the sample: a command run in the wrong
    folder must not report on (or export rules from) the sample day.

    Raises
    ------
    ConfigError
        None of those exists (the message says where it looked and how to make one).
    """
    return find_config(sample=True)
