"""piccolo's configuration, where piccolo looks for it by default (a top-level `piccolo_conf` module).

The engine and the apps are described in marketplace/piccolo_conf.py; this module only makes them piccolo's
default, so its migration runner and its CLI find them with no PICCOLO_CONF environment variable. It is
installed with the package (pyproject.toml: py-modules).
"""

from marketplace.piccolo_conf import APP_REGISTRY, DB

__all__ = ["APP_REGISTRY", "DB"]
