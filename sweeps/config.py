"""nmm's settings in dask's configuration (``nmm.*``), with defaults from ``nmm.yaml``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.config
import yaml

__all__ = ["get"]

_defaults = yaml.safe_load((Path(__file__).parent / "nmm.yaml").read_text())
dask.config.update_defaults(_defaults)


def get(key: str, override_with: object = None) -> Any:
    """``dask.config.get('nmm.' + key, override_with=...)``."""
    return dask.config.get(f"nmm.{key}", override_with=override_with)
