"""Generate: new records written by an LLM from seeds (self-instruct, Alpaca, Evol-Instruct, Magpie), as a dataset;
live counts of accepted and rejected candidates, cancel, and the new dataset opened on the Records page."""

from __future__ import annotations

import streamlit as st

from ui import generate, layout


def main() -> None:
    ws = layout.page("Generate")
    st.caption("An LLM writes new records from seed records, through any OpenAI-compatible endpoint. They become a "
               "dataset (source synthetic, provenance in meta) that flows through the same flags, scores, map, "
               "duplicates, decisions and export as any other. The default seeds are self-instruct's 175 tasks.")
    generate.render(ws)


layout.run(main)
