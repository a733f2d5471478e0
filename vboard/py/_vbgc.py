"""`gc` on the virtual dowel board: the interpreter's own, except that `mem_free()` counts from
the board's heap size (128 KB unless set otherwise) rather than from this port's heap, which
grows on demand up to 128 MB. `mem_alloc()` after `collect()` is the live heap, as on a board.

    import gc
    gc.collect(); gc.mem_free()     # about 100000 on a fresh board, as on an ESP32
"""

from gc import collect, disable, enable, isenabled, mem_alloc  # noqa: F401 - re-exported

import _vb

try:
    from gc import threshold  # noqa: F401
except ImportError:
    pass

_limit = _vb.heap_limit()


def mem_free():
    return max(0, _limit - mem_alloc())
