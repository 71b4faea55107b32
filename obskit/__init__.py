"""obskit: a Jupyter-native observability kit for deep-learning models in production."""

from importlib.metadata import PackageNotFoundError, version

from obskit.errors import ObskitError

try:
    __version__ = version("obskit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["ObskitError", "__version__"]

from obskit.session import Session

__all__ += ["Session"]
