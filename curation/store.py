"""Reading records back out of a workspace as pandas frames."""

from __future__ import annotations

import pandas as pd

from curation.records import COLUMNS
from curation.workspace import Workspace


def read_columns(ws: Workspace, columns: list[str], dataset: str | None = None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = ws.parts(dataset)
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in columns})
    tables = [pq.read_table(p, columns=columns) for p in parts]
    # Arrow-backed columns: near zero-copy from Parquet, and fast string kernels.
    return pa.concat_tables(tables).to_pandas(types_mapper=pd.ArrowDtype)


def read_records(ws: Workspace, dataset: str | None = None) -> pd.DataFrame:
    """Every record, without decisions (those change often; join them with `with_decisions`)."""
    return read_columns(ws, list(COLUMNS), dataset)


def with_decisions(ws: Workspace, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame plus each record's current `decision` (keep / reject / undecided) and `reason`."""
    state = pd.DataFrame(ws.query("SELECT record_id, decision, reason FROM state"), columns=["record_id", "decision", "reason"])
    frame = frame.merge(state, on="record_id", how="left")
    frame["decision"] = frame["decision"].fillna("undecided")
    return frame


def load_records(ws: Workspace, dataset: str | None = None) -> pd.DataFrame:
    """Every record with its current decision."""
    return with_decisions(ws, read_records(ws, dataset))


def record_index(ws: Workspace) -> dict[str, str]:
    """record_id -> dataset, for validating and attributing decisions."""
    frame = read_columns(ws, ["record_id", "dataset"])
    return dict(zip(frame["record_id"], frame["dataset"]))


def dataset_sizes(ws: Workspace) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {name: sum(pq.ParquetFile(p).metadata.num_rows for p in ws.parts(name)) for name in ws.datasets()}
