"""The dowel's three points of contact, defined once: their order, bits, codes and names.

    from dowel import points
    points.NAMES[i]            # "head", "midback", "sacrum": config keys, log and report names
    1 << i                     # point i's bit in a mask (touching, lost, drifted): bit 0 head
    points.first_lost(0b110)   # 2: a rep's first_lost code, i + 1 of the lowest bit (0: clean)
    points.LABELS[i]           # "mid-back": the point as a PT names it
    points.WHERE[i]            # "between the shoulder blades": where it touches the body

Point i is the same point everywhere: the i-th reading (`hal.Board.read`), the i-th pin of
`pinmap.SENSOR_PINS`, `sensors.<NAMES[i]>` in the config, bit i of every mask, first_lost
i + 1 in the rep log (`dowel.logfmt`: 0 when no point was lost), and the host's tables.

The rep machine reads `first_lost` every rep, so the loop keeps this module loaded: only
short strings here, and what only the host needs (labels, places) kept to two tuples.
"""

NAMES = ("head", "midback", "sacrum")
LABELS = ("head", "mid-back", "sacrum")
WHERE = ("back of the head", "between the shoulder blades", "sacrum")


def first_lost(mask):
    """The first_lost code of the lowest point in `mask`: 1..3 (head, mid-back, sacrum), or 0
    when the mask is empty (a clean rep)."""
    if mask & 1:
        return 1
    if mask & 2:
        return 2
    if mask & 4:
        return 3
    return 0
