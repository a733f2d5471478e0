"""The FHIR R4 rules the export must meet that can be checked without a network or a
terminology server: element names and cardinalities of the types we use, primitive formats
(regexes from the R4 spec), required elements, value[x] choice, reference forms, code systems
and UCUM units, and "no empty elements".

    problems = check_bundle(bundle)   # [] when it meets every rule here
"""

from __future__ import annotations

import re
from typing import Any

# Primitive formats, verbatim from https://hl7.org/fhir/R4/datatypes.html
ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")
CODE = re.compile(r"[^\s]+(\s[^\s]+)*")
DATETIME = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|"
    r"3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):"
    r"[0-5][0-9]|14:00)))?)?)?"
)
INSTANT = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|"
    r"3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):"
    r"[0-5][0-9]|14:00))"
)
ABSOLUTE_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:\S+")
URN_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
RELATIVE_REF = re.compile(
    r"[A-Z][A-Za-z]+/[A-Za-z0-9\-\.]{1,64}(/_history/[A-Za-z0-9\-\.]{1,64})?"
)

BUNDLE_TYPES = {
    "document",
    "message",
    "transaction",
    "transaction-response",
    "batch",
    "batch-response",
    "history",
    "searchset",
    "collection",
}
OBSERVATION_STATUS = {
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
}
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CATEGORY_CODES = {
    "social-history",
    "vital-signs",
    "imaging",
    "laboratory",
    "procedure",
    "survey",
    "exam",
    "therapy",
    "activity",
}
UCUM = "http://unitsofmeasure.org"
UCUM_UNITS = {"deg", "ms", "s", "1", "%", "{rep}"}  # the ones a dowel could report

# Element names per type (R4), limited to the types the export uses.
ELEMENTS = {
    "Bundle": {
        "resourceType",
        "id",
        "meta",
        "implicitRules",
        "language",
        "identifier",
        "type",
        "timestamp",
        "total",
        "link",
        "entry",
        "signature",
    },
    "BundleEntry": {"link", "fullUrl", "resource", "search", "request", "response"},
    "Observation": {
        "resourceType",
        "id",
        "meta",
        "implicitRules",
        "language",
        "text",
        "contained",
        "extension",
        "modifierExtension",
        "identifier",
        "basedOn",
        "partOf",
        "status",
        "category",
        "code",
        "subject",
        "focus",
        "encounter",
        "effectiveDateTime",
        "effectivePeriod",
        "effectiveTiming",
        "effectiveInstant",
        "issued",
        "performer",
        "valueQuantity",
        "valueCodeableConcept",
        "valueString",
        "valueBoolean",
        "valueInteger",
        "valueRange",
        "valueRatio",
        "valueSampledData",
        "valueTime",
        "valueDateTime",
        "valuePeriod",
        "dataAbsentReason",
        "interpretation",
        "note",
        "bodySite",
        "method",
        "specimen",
        "device",
        "referenceRange",
        "hasMember",
        "derivedFrom",
        "component",
    },
    "Component": {
        "code",
        "valueQuantity",
        "valueCodeableConcept",
        "valueString",
        "valueBoolean",
        "valueInteger",
        "valueRange",
        "valueRatio",
        "valueSampledData",
        "valueTime",
        "valueDateTime",
        "valuePeriod",
        "dataAbsentReason",
        "interpretation",
        "referenceRange",
    },
    "Device": {
        "resourceType",
        "id",
        "meta",
        "implicitRules",
        "language",
        "text",
        "contained",
        "extension",
        "modifierExtension",
        "identifier",
        "definition",
        "udiCarrier",
        "status",
        "statusReason",
        "distinctIdentifier",
        "manufacturer",
        "manufactureDate",
        "expirationDate",
        "lotNumber",
        "serialNumber",
        "deviceName",
        "modelNumber",
        "partNumber",
        "type",
        "specialization",
        "version",
        "property",
        "patient",
        "owner",
        "contact",
        "location",
        "url",
        "note",
        "safety",
        "parent",
    },
    "DeviceMetric": {
        "resourceType",
        "id",
        "meta",
        "implicitRules",
        "language",
        "text",
        "contained",
        "extension",
        "modifierExtension",
        "identifier",
        "type",
        "unit",
        "source",
        "parent",
        "operationalStatus",
        "color",
        "category",
        "measurementPeriod",
        "calibration",
    },
    "ServiceRequest": {
        "resourceType",
        "id",
        "meta",
        "implicitRules",
        "language",
        "text",
        "contained",
        "extension",
        "modifierExtension",
        "identifier",
        "instantiatesCanonical",
        "instantiatesUri",
        "basedOn",
        "replaces",
        "requisition",
        "status",
        "intent",
        "category",
        "priority",
        "doNotPerform",
        "code",
        "orderDetail",
        "quantityQuantity",
        "quantityRatio",
        "quantityRange",
        "subject",
        "encounter",
        "occurrenceDateTime",
        "occurrencePeriod",
        "occurrenceTiming",
        "asNeededBoolean",
        "asNeededCodeableConcept",
        "authoredOn",
        "requester",
        "performerType",
        "performer",
        "locationCode",
        "locationReference",
        "reasonCode",
        "reasonReference",
        "insurance",
        "supportingInfo",
        "specimen",
        "bodySite",
        "note",
        "patientInstruction",
        "relevantHistory",
    },
    "CodeableConcept": {"coding", "text"},
    "Coding": {"system", "version", "code", "display", "userSelected"},
    "Reference": {"reference", "type", "identifier", "display"},
    "Identifier": {"use", "type", "system", "value", "period", "assigner"},
    "Quantity": {"value", "comparator", "unit", "system", "code"},
    "Annotation": {"authorString", "authorReference", "time", "text"},
}
# Elements with cardinality 0..* per type (JSON arrays); every other element is a single value.
LISTS = {
    "Bundle": {"link", "entry"},
    "BundleEntry": {"link"},
    "Observation": {
        "identifier",
        "basedOn",
        "partOf",
        "category",
        "focus",
        "performer",
        "interpretation",
        "note",
        "specimen",
        "referenceRange",
        "hasMember",
        "derivedFrom",
        "component",
        "contained",
        "extension",
        "modifierExtension",
    },
    "Component": {"interpretation", "referenceRange"},
    "Device": {
        "contained",
        "extension",
        "modifierExtension",
        "identifier",
        "udiCarrier",
        "statusReason",
        "deviceName",
        "specialization",
        "version",
        "property",
        "contact",
        "note",
        "safety",
    },
    "DeviceMetric": {"contained", "extension", "modifierExtension", "identifier", "calibration"},
    "ServiceRequest": {
        "contained",
        "extension",
        "modifierExtension",
        "identifier",
        "instantiatesCanonical",
        "instantiatesUri",
        "basedOn",
        "replaces",
        "category",
        "orderDetail",
        "performer",
        "locationCode",
        "locationReference",
        "reasonCode",
        "reasonReference",
        "insurance",
        "supportingInfo",
        "specimen",
        "bodySite",
        "note",
        "relevantHistory",
    },
    "CodeableConcept": {"coding"},
    "Coding": set(),
    "Reference": set(),
    "Identifier": set(),
    "Quantity": set(),
    "Annotation": set(),
}


class Checker:
    def __init__(self, local_system: str, local_codes: set[str]):
        self.local_system = local_system
        self.local_codes = local_codes
        self.problems: list[str] = []
        self.urn_refs: list[tuple[str, str]] = []

    def bad(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def no_empties(self, value: Any, where: str) -> None:
        """R4: elements are never empty ("", [], {}) nor null."""
        if value is None or value == "" or value == [] or value == {}:
            self.bad(where, "empty or null element")
        elif isinstance(value, dict):
            for k, v in value.items():
                self.no_empties(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.no_empties(v, f"{where}[{i}]")

    def keys(self, obj: Any, kind: str, where: str, required: set[str] = frozenset()) -> bool:
        if not isinstance(obj, dict):
            self.bad(where, f"{kind} must be a JSON object")
            return False
        for k in obj:
            if k not in ELEMENTS[kind]:
                self.bad(where, f"{k!r} is not an element of {kind}")
            elif k in LISTS[kind] and not isinstance(obj[k], list):
                self.bad(where, f"{k} must be an array")
            elif k not in LISTS[kind] and isinstance(obj[k], list):
                self.bad(where, f"{k} must not be an array")
        for k in required:
            if k not in obj:
                self.bad(where, f"{kind}.{k} is required")
        return True

    def string(self, value: Any, where: str, pattern: re.Pattern | None = None) -> None:
        if not isinstance(value, str):
            self.bad(where, "must be a string")
        elif pattern is not None and not pattern.fullmatch(value):
            self.bad(where, f"{value!r} has the wrong format")

    def coding(self, c: Any, where: str) -> None:
        if not self.keys(c, "Coding", where, {"system", "code"}):
            return
        self.string(c["system"], where + ".system", ABSOLUTE_URI)
        self.string(c["code"], where + ".code", CODE)
        if "display" in c:
            self.string(c["display"], where + ".display")
        if c.get("system") == self.local_system and c.get("code") not in self.local_codes:
            self.bad(where, f"{c.get('code')!r} is not a code of {self.local_system}")
        if c.get("system") == OBSERVATION_CATEGORY and c.get("code") not in CATEGORY_CODES:
            self.bad(where, f"{c.get('code')!r} is not an observation category")

    def concept(self, cc: Any, where: str) -> None:
        if not self.keys(cc, "CodeableConcept", where):
            return
        if "coding" not in cc and "text" not in cc:
            self.bad(where, "CodeableConcept needs coding or text")
        for i, c in enumerate(cc.get("coding", [])):
            self.coding(c, f"{where}.coding[{i}]")

    def identifier(self, ident: Any, where: str) -> None:
        if self.keys(ident, "Identifier", where, {"system", "value"}):
            self.string(ident["system"], where + ".system", ABSOLUTE_URI)
            self.string(ident["value"], where + ".value")

    def reference(self, ref: Any, where: str, target: str | None = None) -> None:
        if not self.keys(ref, "Reference", where):
            return
        if not {"reference", "identifier", "display"} & set(ref):
            self.bad(where, "Reference needs reference, identifier or display (ref-1)")
        if "reference" in ref:
            value = str(ref["reference"])
            if value.startswith("urn:uuid:"):  # an entry of the same Bundle, by its fullUrl
                self.string(value, where + ".reference", URN_UUID)
                self.urn_refs.append((where, value))
            else:
                self.string(value, where + ".reference", RELATIVE_REF)
                if target and not value.startswith(target + "/"):
                    self.bad(where, f"must reference a {target}")
        if "identifier" in ref:
            self.identifier(ref["identifier"], where + ".identifier")

    def quantity(self, q: Any, where: str) -> None:
        if not self.keys(q, "Quantity", where, {"value", "unit", "system", "code"}):
            return
        v = q["value"]
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.bad(where, "Quantity.value must be a JSON number")
        if q["system"] != UCUM:
            self.bad(where, f"unit system {q['system']!r} is not UCUM")
        if q["code"] not in UCUM_UNITS:
            self.bad(where, f"{q['code']!r} is not a UCUM unit we expect")

    def value_choice(self, obj: dict, where: str) -> None:
        values = [k for k in obj if k.startswith("value")]
        if len(values) > 1:
            self.bad(where, f"more than one value[x]: {values}")
        for k in values:
            v = obj[k]
            if k == "valueInteger" and (
                isinstance(v, bool) or not isinstance(v, int) or not -(2**31) <= v < 2**31
            ):
                self.bad(where, "valueInteger must be a 32-bit integer")
            elif k == "valueQuantity":
                self.quantity(v, f"{where}.valueQuantity")
            elif k == "valueDateTime":  # the coincident time stamp: a time with a zone
                self.string(v, f"{where}.valueDateTime", INSTANT)
            elif k not in ("valueInteger", "valueQuantity"):
                self.bad(
                    where,
                    f"{k}: the export uses only valueInteger, valueQuantity and valueDateTime",
                )
        if values and "dataAbsentReason" in obj:
            self.bad(where, "dataAbsentReason only when there is no value (obs-6)")

    def observation(self, obs: Any, where: str) -> None:
        if not self.keys(obs, "Observation", where, {"resourceType", "status", "code"}):
            return
        if obs.get("resourceType") != "Observation":
            self.bad(where, "resourceType must be Observation")
        if "id" in obs:
            self.string(obs["id"], where + ".id", ID)
        if obs.get("status") not in OBSERVATION_STATUS:
            self.bad(where, f"status {obs.get('status')!r} is not an observation status")
        for i, ident in enumerate(obs.get("identifier", [])):
            self.identifier(ident, f"{where}.identifier[{i}]")
        for i, cat in enumerate(obs.get("category", [])):
            self.concept(cat, f"{where}.category[{i}]")
        self.concept(obs.get("code"), where + ".code")
        if "subject" in obs:
            self.reference(obs["subject"], where + ".subject", "Patient")
        if "device" in obs:
            self.reference(obs["device"], where + ".device", "Device")
        if "effectiveDateTime" in obs:
            self.string(obs["effectiveDateTime"], where + ".effectiveDateTime", DATETIME)
            if "T" in obs["effectiveDateTime"] and not re.search(
                r"(Z|[+-]\d\d:\d\d)$", obs["effectiveDateTime"]
            ):
                self.bad(where, "a dateTime with a time needs a time zone")
        for i, note in enumerate(obs.get("note", [])):
            if self.keys(note, "Annotation", f"{where}.note[{i}]", {"text"}):
                self.string(note["text"], f"{where}.note[{i}].text")
        self.value_choice(obs, where)
        for i, comp in enumerate(obs.get("component", [])):
            w = f"{where}.component[{i}]"
            if self.keys(comp, "Component", w, {"code"}):
                self.concept(comp["code"], w + ".code")
                self.value_choice(comp, w)
                if comp.get("code") == obs.get("code") and any(k.startswith("value") for k in obs):
                    self.bad(w, "component code equals Observation.code (obs-7)")

    # R4 required bindings of the enumerations the export uses.
    DEVICE_STATUS = {"active", "inactive", "entered-in-error", "unknown"}
    NAME_TYPES = {
        "udi-label-name",
        "user-friendly-name",
        "patient-reported-name",
        "manufacturer-name",
        "model-name",
        "other",
    }
    METRIC_STATUS = {"on", "off", "standby", "entered-in-error"}
    METRIC_CATEGORY = {"measurement", "setting", "calculation", "unspecified"}
    CALIBRATION_TYPE = {"unspecified", "offset", "gain", "two-point"}
    CALIBRATION_STATE = {"not-calibrated", "calibration-required", "calibrated", "unspecified"}
    REQUEST_STATUS = {
        "draft",
        "active",
        "on-hold",
        "revoked",
        "completed",
        "entered-in-error",
        "unknown",
    }
    REQUEST_INTENT = {
        "proposal",
        "plan",
        "directive",
        "order",
        "original-order",
        "reflex-order",
        "filler-order",
        "instance-order",
        "option",
    }
    PERIOD_UNITS = {"s", "min", "h", "d", "wk", "mo", "a"}

    def enum(self, value: Any, allowed: set[str], where: str) -> None:
        if value not in allowed:
            self.bad(where, f"{value!r} is not one of {sorted(allowed)}")

    def device(self, d: dict, where: str) -> None:
        if not self.keys(d, "Device", where, {"resourceType"}):
            return
        for i, ident in enumerate(d.get("identifier", [])):
            self.identifier(ident, f"{where}.identifier[{i}]")
        if "status" in d:
            self.enum(d["status"], self.DEVICE_STATUS, where + ".status")
        for i, n in enumerate(d.get("deviceName", [])):
            self.string(n.get("name"), f"{where}.deviceName[{i}].name")
            self.enum(n.get("type"), self.NAME_TYPES, f"{where}.deviceName[{i}].type")
        if "type" in d:
            self.concept(d["type"], where + ".type")
        for i, v in enumerate(d.get("version", [])):
            self.string(v.get("value"), f"{where}.version[{i}].value")
            if "type" in v:
                self.concept(v["type"], f"{where}.version[{i}].type")
        if "patient" in d:
            self.reference(d["patient"], where + ".patient", "Patient")

    def metric(self, m: dict, where: str) -> None:
        if not self.keys(m, "DeviceMetric", where, {"resourceType", "type", "category"}):
            return
        self.concept(m["type"], where + ".type")
        self.enum(m["category"], self.METRIC_CATEGORY, where + ".category")
        if "operationalStatus" in m:
            self.enum(m["operationalStatus"], self.METRIC_STATUS, where + ".operationalStatus")
        if "source" in m:
            self.reference(m["source"], where + ".source", "Device")
        for i, c in enumerate(m.get("calibration", [])):
            w = f"{where}.calibration[{i}]"
            self.enum(c.get("type"), self.CALIBRATION_TYPE, w + ".type")
            self.enum(c.get("state"), self.CALIBRATION_STATE, w + ".state")
            if "time" in c:
                self.string(c["time"], w + ".time", INSTANT)

    def request(self, r: dict, where: str) -> None:
        required = {"resourceType", "status", "intent", "subject"}
        if not self.keys(r, "ServiceRequest", where, required):
            return
        self.enum(r["status"], self.REQUEST_STATUS, where + ".status")
        self.enum(r["intent"], self.REQUEST_INTENT, where + ".intent")
        self.reference(r["subject"], where + ".subject", "Patient")
        if "code" in r:
            self.concept(r["code"], where + ".code")
        repeat = r.get("occurrenceTiming", {}).get("repeat", {})
        for key in ("frequency", "period"):
            v = repeat.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or v <= 0):
                self.bad(f"{where}.occurrenceTiming.repeat.{key}", "must be a positive number")
        if "periodUnit" in repeat:
            self.enum(repeat["periodUnit"], self.PERIOD_UNITS, where + ".periodUnit")
        if "quantityQuantity" in r:
            self.quantity(r["quantityQuantity"], where + ".quantityQuantity")
        for i, note in enumerate(r.get("note", [])):
            if self.keys(note, "Annotation", f"{where}.note[{i}]", {"text"}):
                self.string(note["text"], f"{where}.note[{i}].text")

    def resource(self, res: Any, where: str) -> None:
        kind = res.get("resourceType") if isinstance(res, dict) else None
        if isinstance(res, dict) and "id" in res:
            self.string(res["id"], where + ".id", ID)
        if kind == "Device":
            self.device(res, where)
        elif kind == "DeviceMetric":
            self.metric(res, where)
        elif kind == "ServiceRequest":
            self.request(res, where)
        else:
            self.observation(res, where)

    def bundle(self, b: Any) -> list[str]:
        self.no_empties(b, "Bundle")
        if not self.keys(b, "Bundle", "Bundle", {"resourceType", "type"}):
            return self.problems
        if b.get("resourceType") != "Bundle":
            self.bad("Bundle", "resourceType must be Bundle")
        if b.get("type") not in BUNDLE_TYPES:
            self.bad("Bundle", f"type {b.get('type')!r} is not a bundle type")
        if "timestamp" in b:
            self.string(b["timestamp"], "Bundle.timestamp", INSTANT)
        urls = []
        for i, e in enumerate(b.get("entry", [])):
            w = f"Bundle.entry[{i}]"
            if not self.keys(e, "BundleEntry", w, {"fullUrl", "resource"}):
                continue
            self.string(e["fullUrl"], w + ".fullUrl", ABSOLUTE_URI)
            urls.append(e["fullUrl"])
            res = e["resource"]
            if str(e["fullUrl"]).startswith("urn:uuid:"):
                self.string(e["fullUrl"], w + ".fullUrl", URN_UUID)
                if (
                    isinstance(res, dict)
                    and "id" in res
                    and e["fullUrl"] != "urn:uuid:" + res["id"]
                ):
                    self.bad(w, "fullUrl urn:uuid must match the resource id")
            self.resource(res, w + ".resource")
        if len(urls) != len(set(urls)):
            self.bad("Bundle", "fullUrl values must be unique (bdl-7)")
        for where, ref in self.urn_refs:
            if ref not in urls:
                self.bad(where, f"{ref} is not an entry of this Bundle")
        return self.problems


def check_bundle(bundle: Any, local_system: str, local_codes: set[str]) -> list[str]:
    return Checker(local_system, local_codes).bundle(bundle)
