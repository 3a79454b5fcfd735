"""Self-instruct seed tasks: one task, several input/output instances."""

from __future__ import annotations

from curation.formats.base import Format, RowError, as_text, rest


class SelfInstruct(Format):
    def to_records(self, row: dict) -> list[dict]:
        instruction = as_text(row, "instruction")
        instances = row.get("instances")
        if not isinstance(instances, list) or not instances:
            raise RowError("field 'instances' must be a non-empty list of {input, output}")
        task = rest(row, ("instances", "instruction"))
        records = []
        for i, inst in enumerate(instances):
            if not isinstance(inst, dict):
                raise RowError(f"instance {i} is not an object")
            meta = {**task, "instance": i}
            extra = rest(inst, ("input", "output"))
            if extra:
                meta["instance_extra"] = extra
            records.append(
                {
                    "system": "",
                    "instruction": instruction,
                    "input": as_text(inst, "input", required=False),
                    "output": as_text(inst, "output"),
                    "messages": None,
                    "meta": meta,
                }
            )
        return records

    def to_source(self, records: list[dict]) -> list[dict]:
        tasks: dict = {}
        for rec in sorted(records, key=lambda r: r["meta"]["instance"]):
            meta = dict(rec["meta"])
            meta.pop("instance")
            extra = meta.pop("instance_extra", {})
            key = (rec["instruction"], repr(sorted(meta.items(), key=lambda kv: kv[0])))
            task = tasks.setdefault(key, {"instruction": rec["instruction"], **meta, "instances": []})
            task["instances"].append({"input": rec["input"], "output": rec["output"], **extra})
        return list(tasks.values())


SELF_INSTRUCT = SelfInstruct(
    name="self-instruct",
    description="self-instruct seed tasks: instruction + instances[{input, output}], one record per instance",
    keys=("instruction", "instances"),
)
