"""wallow's ``wallow.contrib`` as ``pgtrack.contrib``: code that imports ``wallow.contrib.lifecycle``
runs with only ``wallow`` changed to ``pgtrack``."""
