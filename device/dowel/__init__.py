"""Smart dowel firmware package: pure core modules plus the one hardware module, `hal`.

Everything here except `hal` imports no `machine` and reads no clock, so the host tools import
the very same files under CPython (`dowel replay`, tests, the log decoder).
"""
