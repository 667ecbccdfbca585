"""Version of the ktrain-compatible namespace: easytx's own (``ktrain.version.__version__``)."""

from .. import __version__

__all__ = ["__version__"]
