__version__ = "0.1.0"
from ._moved import install as _install_moved
_install_moved()   # old flat module paths, one release
