"""The dowel's configuration, `/dowel.json`: defaults, validation, atomic save.

    cfg, reason = load("/dowel.json")  # reason is None, or why the defaults are in use
    cfg = set_field(cfg, "sensors.head.on", "21000")  # raises ConfigError naming the field
    save(cfg, "/dowel.json")

One implementation serves the board (at boot, and `write_json` called by the host) and the host
(`dowel config set`, `dowel calibrate`), so both refuse exactly the same values.
"""

import json

from dowel import atomic, points
from dowel.feedback import MAX_STAGES, MAX_WINDOW, MODE_NAMES, PROBE_NAMES

try:
    from micropython import const
except ImportError:  # CPython: the host runs these same files

    def const(x):
        return x


VERSION = const(1)
PATH = "/dowel.json"
FEEDBACK_MODES = MODE_NAMES  # loss, warning, faded, bandwidth, none (dowel.feedback)
LEGACY_MODES = {"every": "loss"}  # the name before schedules: still loaded
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

# Integer fields: (low, high) inclusive. Sensor thresholds are checked apart (0 < off < on).
RANGES = {
    "loss_ms": (20, 1000),
    "regain_ms": (20, 2000),
    "arm_ms": (100, 5000),
    "start_deg": (5, 60),
    "end_deg": (0, 55),
    "faded_pct": (0, 100),
    "drift_pct": (5, 90),
    "session_gap_s": (60, 86400),
    "bandwidth_ms": (50, 3000),
    "warn_pct": (10, 100),
    "reps_per_set": (0, 100),
    "sets_per_day": (0, 50),  # as the host's prescriptions (host_tools.store.patients)
    "probe_every": (2, 20),
    "utc_offset_min": (-720, 840),
}
# Words in the messages of rules between fields (end_deg under start_deg, off under on, sets
# need reps_per_set): a host checking one field alone, against defaults, leaves them to the
# check of the whole config.
CROSS_FIELD = ("must be below", "reps_per_set above 0")
SCHEDULE_EXAMPLE = '[{"mode": "warning", "sessions": 3}, {"mode": "loss"}]'
STAGE_LENGTHS = {"sessions": (1, 365), "days": (1, 365)}
UNTIL_RANGES = {"fault_below_pct": (1, 100), "last_reps": (5, MAX_WINDOW)}


def defaults():
    """A fresh copy of the default config (thresholds suit a typical adult; calibrate instead)."""
    return {
        "version": VERSION,
        "patient": "UNSET",
        "loss_ms": 120,
        "regain_ms": 200,
        "arm_ms": 500,
        "sensors": {
            "head": {"on": 20000, "off": 16000, "level": 0},
            "midback": {"on": 20000, "off": 16000, "level": 0},
            "sacrum": {"on": 20000, "off": 16000, "level": 0},
        },
        "start_deg": 15,  # IMU: a rep starts when trunk pitch passes this
        "end_deg": 8,  # ... and ends when it returns under this
        "feedback": "loss",  # or warning, faded, bandwidth, none (dowel.feedback)
        "faded_pct": 50,
        "bandwidth_ms": 400,  # bandwidth: a loss is cued when it lasts this long
        "warn_pct": 50,  # warning: ticks start this far up from off toward the contact level
        "schedule": [],  # stages of feedback the PT prescribes; [] = `feedback` throughout
        "reps_per_set": 0,  # 0: no sets (no set-done, day-done or probe sets)
        "sets_per_day": 0,  # 0: no day-done cue
        "probe": "off",  # "first" set of each day, or "every" probe_every-th: no fault feedback
        "probe_every": 3,
        "chime": False,  # a short chime after a clean rep
        "drift_pct": 25,  # contact level moved this far from `level`: prompt to recalibrate
        "session_gap_s": 600,  # idle this long and the next rep opens a new log session
        "utc_offset_min": 0,  # the patient's time zone: a day (sets, probes) starts at midnight
    }


class ConfigError(ValueError):
    """The config has bad fields; `errors` lists (field, message) for every one of them."""

    def __init__(self, errors):
        # super(), not ValueError.__init__(self, ...): MicroPython's built-in types have no
        # __init__ attribute to call (AttributeError), so the base is reached through super().
        super().__init__("; ".join(field + ": " + msg for field, msg in errors))
        self.errors = errors


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate(obj):
    """Return a normalized copy of `obj` (missing optional fields take defaults) or raise
    ConfigError naming every bad field. Unknown fields are refused, not silently kept."""
    errors = []
    if not isinstance(obj, dict):
        raise ConfigError([("config", "must be a JSON object")])
    out = defaults()
    for key in obj:
        if key not in out:
            errors.append((key, "unknown field"))
    if obj.get("version", VERSION) != VERSION:
        errors.append(("version", "must be " + str(VERSION)))
    patient = obj.get("patient", out["patient"])
    if (
        not isinstance(patient, str)
        or not 1 <= len(patient) <= 32
        or any(c not in _ID_CHARS for c in patient)
    ):
        errors.append(("patient", "must be 1..32 characters from A-Z a-z 0-9 _ -"))
    else:
        out["patient"] = patient
    for key in RANGES:
        if key in obj:
            low, high = RANGES[key]
            value = obj[key]
            if not _is_int(value) or not low <= value <= high:
                errors.append((key, "must be an integer from %d to %d" % (low, high)))
            else:
                out[key] = value
    if out["end_deg"] >= out["start_deg"]:
        errors.append(("end_deg", "must be below start_deg (%d)" % out["start_deg"]))
    _validate_feedback(obj, out, errors)
    if "chime" in obj:
        if not isinstance(obj["chime"], bool):
            errors.append(("chime", "must be true or false"))
        else:
            out["chime"] = obj["chime"]
    sensors = obj.get("sensors", out["sensors"])
    if not isinstance(sensors, dict):
        errors.append(("sensors", "must be an object with %s, %s and %s" % points.NAMES))
    else:
        for key in sensors:
            if key not in points.NAMES:
                errors.append(("sensors." + key, "unknown sensor"))
        for name in points.NAMES:
            _validate_sensor(sensors.get(name), name, out["sensors"][name], errors)
    if errors:
        raise ConfigError(errors)
    return out


def _mode(value, field, errors):
    """A feedback mode's name, the legacy one mapped; None (and an error) when not one."""
    value = LEGACY_MODES.get(value, value) if isinstance(value, str) else value
    if value not in FEEDBACK_MODES:
        errors.append((field, "must be one of: " + ", ".join(FEEDBACK_MODES)))
        return None
    return value


def _validate_feedback(obj, out, errors):
    """The feedback mode, the schedule, sets and probe sets (ints are checked with RANGES)."""
    if "feedback" in obj:
        mode = _mode(obj["feedback"], "feedback", errors)
        if mode is not None:
            out["feedback"] = mode
    if "probe" in obj:
        if obj["probe"] not in PROBE_NAMES:
            errors.append(("probe", "must be one of: " + ", ".join(PROBE_NAMES)))
        else:
            out["probe"] = obj["probe"]
    if out["probe"] != "off" and out["reps_per_set"] == 0:
        errors.append(("probe", "probe sets need reps_per_set above 0"))
    if out["sets_per_day"] and out["reps_per_set"] == 0:
        errors.append(("sets_per_day", "needs reps_per_set above 0"))
    if "schedule" in obj:
        schedule = obj["schedule"]
        if not isinstance(schedule, list) or len(schedule) > MAX_STAGES:
            errors.append(("schedule", "must be a list of up to %d stages" % MAX_STAGES))
            return
        stages = []
        for i in range(len(schedule)):
            stage = _validate_stage(schedule[i], i, i == len(schedule) - 1, errors)
            if stage is not None:
                stages.append(stage)
        if len(stages) == len(schedule):
            out["schedule"] = stages


def _validate_stage(given, i, last, errors):
    """One stage {"mode", "pct" (faded), one of sessions / days / until}, normalized; None
    (with the errors) when it is bad."""
    field = "schedule[%d]" % i
    if not isinstance(given, dict):
        errors.append((field, 'must be an object like {"mode": "loss", "sessions": 3}'))
        return None
    n = len(errors)
    for key in given:
        if key not in ("mode", "pct", "sessions", "days", "until"):
            errors.append((field + "." + key, "unknown field"))
    mode = _mode(given.get("mode"), field + ".mode", errors)
    stage = {"mode": mode}
    if "pct" in given:
        pct = given["pct"]
        if mode != "faded":
            errors.append((field + ".pct", "only a faded stage takes a percentage"))
        elif not _is_int(pct) or not 0 <= pct <= 100:
            errors.append((field + ".pct", "must be an integer from 0 to 100"))
        else:
            stage["pct"] = pct
    lengths = [k for k in ("sessions", "days", "until") if k in given]
    if len(lengths) > 1:
        errors.append((field, "give one of sessions, days or until, not " + " and ".join(lengths)))
    elif last and lengths:
        errors.append(
            (field, "the last stage lasts until the schedule changes: drop its " + lengths[0])
        )
    elif not last and not lengths:
        errors.append(
            (field, "needs a length: sessions, days or until (only the last stage has none)")
        )
    for key in STAGE_LENGTHS:
        if key in given:
            low, high = STAGE_LENGTHS[key]
            value = given[key]
            if not _is_int(value) or not low <= value <= high:
                errors.append(
                    (field + "." + key, "must be an integer from %d to %d" % (low, high))
                )
            else:
                stage[key] = value
    if "until" in given:
        until = _validate_until(given["until"], field + ".until", errors)
        if until is not None:
            stage["until"] = until  # pyright: ignore[reportArgumentType] - a dict among str
    return stage if len(errors) == n else None


def _validate_until(given, field, errors):
    if not isinstance(given, dict) or set(given) != set(UNTIL_RANGES):
        errors.append((field, 'must be {"fault_below_pct": 10, "last_reps": 30}'))
        return None
    out = {}
    for key in UNTIL_RANGES:
        low, high = UNTIL_RANGES[key]
        value = given[key]
        if not _is_int(value) or not low <= value <= high:
            errors.append((field + "." + key, "must be an integer from %d to %d" % (low, high)))
        else:
            out[key] = value
    return out if len(out) == len(UNTIL_RANGES) else None


def _validate_sensor(given, name, out, errors):
    field = "sensors." + name
    if given is None:
        return  # keep the defaults for a sensor not mentioned
    if not isinstance(given, dict):
        errors.append((field, "must be an object with on and off"))
        return
    for key in given:
        if key not in out:
            errors.append((field + "." + key, "unknown field"))
    for key in ("on", "off", "level"):
        if key in given:
            value = given[key]
            if not _is_int(value) or not 0 <= value <= 65535:
                errors.append((field + "." + key, "must be an integer from 0 to 65535"))
            else:
                out[key] = value
    if not 0 < out["off"] < out["on"] <= 65535:
        errors.append(
            (field, "needs 0 < off < on <= 65535 (off %d, on %d)" % (out["off"], out["on"]))
        )


def set_field(cfg, dotted, text):
    """Return a validated copy of `cfg` with one dotted field set from its text form."""
    return validate(assign(cfg, dotted, text))


def assign(cfg, dotted, text):
    """A copy of `cfg` with one dotted field set from its text form, parsed by the field's
    type but not validated: several assignments may then be validated together (`probe`
    needs `reps_per_set`, `off` must stay under `on`), whatever their order."""
    keys = dotted.split(".")
    new = json.loads(json.dumps(cfg))  # deep copy that works on MicroPython too
    node = new
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            raise ConfigError([(dotted, "unknown field")])
        node = node[key]
    if keys[-1] not in node:
        raise ConfigError([(dotted, "unknown field")])
    current = node[keys[-1]]
    if isinstance(current, bool):
        if text not in ("true", "false"):
            raise ConfigError([(dotted, "must be true or false")])
        node[keys[-1]] = text == "true"
    elif _is_int(current):
        try:
            node[keys[-1]] = int(text)
        except ValueError:
            raise ConfigError([(dotted, "must be an integer, not " + repr(text))])
    elif isinstance(current, list):  # the schedule, as JSON text
        try:
            node[keys[-1]] = json.loads(text)
        except ValueError:
            raise ConfigError([(dotted, "must be JSON, like " + SCHEDULE_EXAMPLE)])
    else:
        node[keys[-1]] = text
    return new


def config_hash(cfg):
    """First 8 bytes of the SHA-256 of the canonical JSON: names the config in log headers."""
    import hashlib

    return hashlib.sha256(canonical(cfg).encode()).digest()[:8]


def canonical(value):
    """Key-sorted compact JSON, written by hand: MicroPython's json has no sort_keys."""
    if isinstance(value, dict):
        return (
            "{" + ",".join(json.dumps(k) + ":" + canonical(value[k]) for k in sorted(value)) + "}"
        )
    return json.dumps(value)


# A config is a few hundred bytes (the defaults: 327 as saved) and three levels deep. A file
# past these bounds is refused before it is parsed, so a huge file is never read whole, and
# 4 KB of "[[[[" never becomes two thousand lists on the board's heap (nor a RecursionError in
# CPython's parser, the host's `dowel replay --config`).
MAX_BYTES = const(4096)
MAX_DEPTH = const(8)
_ENOENT = const(2)  # errno.ENOENT, the same on MicroPython, Linux, macOS and Windows


def load(path=PATH):
    """Return (cfg, reason); never raises, whatever the file holds. A missing file gives
    defaults and reason None; any other file that is not a valid config (unreadable, empty,
    huge, binary, bad JSON, nested, out of range, unknown fields) gives defaults and the reason,
    for the fault cue at boot and for the host (`read`), which calls this again."""
    used = path
    try:
        data = _read(path)
        if data is None:
            used = atomic.tmp(path)  # a save cut between its remove and rename (FAT)
            data = _read(used)
            if data is None:
                return defaults(), None
        return validate(_parse(data)), None
    except Exception as exc:  # noqa: BLE001 - at boot, any failure here means defaults
        return defaults(), "config " + used + " rejected, defaults in use: " + _why(exc)


def _read(path):
    """Up to MAX_BYTES + 1 bytes of the file, or None when there is no such file."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        if exc.args and exc.args[0] == _ENOENT:
            return None
        raise
    try:
        # As many bytes as the file holds (one more tells a file that grew), never a
        # MAX_BYTES buffer: at boot the heap is fragmented (a 39 KB free heap measured on the
        # virtual board had no free block over 1.6 KB), and a typical config is ~500 bytes.
        size = f.seek(0, 2)
        f.seek(0)
        return f.read(min(size, MAX_BYTES) + 1)
    finally:
        f.close()


def _parse(data):
    """The JSON value in `data` (bytes), after the checks that keep the parser bounded."""
    if len(data) > MAX_BYTES:
        raise ValueError("the file is over %d bytes" % MAX_BYTES)
    if not data.strip():
        raise ValueError("the file is empty")
    depth = 0
    in_string = escaped = False
    for i in range(len(data)):
        b = data[i]
        if b > 126 or (b < 32 and b not in (9, 10, 13)):
            raise ValueError("not JSON text (byte 0x%02x at offset %d)" % (b, i))
        if in_string:
            if escaped:
                escaped = False
            elif b == 92:  # backslash
                escaped = True
            elif b == 34:  # quote
                in_string = False
        elif b == 34:
            in_string = True
        elif b == 91 or b == 123:  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError("nested deeper than %d levels" % MAX_DEPTH)
        elif b == 93 or b == 125:  # ] }
            depth -= 1
    try:
        return json.loads(data.decode())
    except ValueError as exc:
        raise ValueError("not valid JSON (" + (str(exc) or "syntax error") + ")")


def _why(exc):
    """One line for the reason: the message, or the exception's type when it has none."""
    if isinstance(exc, ConfigError) or (isinstance(exc, ValueError) and exc.args):
        return str(exc)
    if isinstance(exc, OSError):
        return "the file cannot be read (OSError %s)" % (exc.args[0] if exc.args else "?")
    if isinstance(exc, MemoryError):
        return "not enough memory to read it"
    return "%s %s" % (type(exc).__name__, exc)


def save(cfg, path=PATH):
    """Validate, then write atomically (`dowel.atomic`): a power cut leaves either the old
    config or the new, never half of one."""
    cfg = validate(cfg)
    atomic.write(path, canonical(cfg))
    return cfg


def read(path=PATH):
    """Host call: (cfg, reason) as `load` returns it."""
    return load(path)


def write_json(text, path=PATH):
    """Host call: validate the JSON text and save it atomically; return the normalized cfg."""
    return save(json.loads(text), path)
