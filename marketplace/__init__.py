"""Mercado Abierto: the application and what every domain shares."""

import os

# piccolo finds its engine and apps through this module; setting a default is not I/O.
os.environ.setdefault("PICCOLO_CONF", "marketplace.piccolo_conf")
