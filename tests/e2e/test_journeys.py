"""A curator's main journeys in real headless Chromium against `streamlit run app.py`."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from curation.store import load_records
from curation.workspace import Workspace
from tests.e2e.browser import eventually, load_path, wait_idle

pytestmark = pytest.mark.e2e


def search(page, text: str) -> None:
    box = page.get_by_placeholder("words in instruction, input, output or conversation")
    box.fill(text)
    box.press("Enter")
    wait_idle(page)


def lasso_the_map(page) -> None:
    """Lasso a big loop through the middle of the Plotly map."""
    box = page.locator("[data-testid='stPlotlyChart'] .nsewdrag").first.bounding_box()
    cx, cy, w, h = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"], box["height"]
    page.mouse.move(cx - w * 0.45, cy - h * 0.45)
    page.mouse.down()
    for x, y in ((cx + w * 0.45, cy - h * 0.45), (cx + w * 0.45, cy + h * 0.45), (cx - w * 0.45, cy + h * 0.45),
                 (cx - w * 0.45, cy - h * 0.44)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def test_load_demo_filter_reject_reload_and_see_it_persisted(served):
    url, page, ws = served
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    wait_idle(page)
    page.get_by_role("button", name="Load the demo dataset").click()
    wait_idle(page)
    expect(page.get_by_text("241 of 241 records match")).to_be_visible(timeout=30_000)

    search(page, "script tag")
    expect(page.get_by_text("1 of 241 records match")).to_be_visible()
    # The record's <script> is shown as text, never run or turned into an element.
    shown = page.locator("[data-testid='stCode']").filter(has_text="<script>alert('xss')</script> is how")
    expect(shown).to_be_visible()
    assert page.locator("script:has-text('xss')").count() == 0
    assert dialogs == []

    reason = page.get_by_role("textbox", name="Reason").first
    reason.fill("unsafe_html")
    reason.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Reject", exact=True).click()
    wait_idle(page)
    expect(page.get_by_text("Decision: reject (unsafe_html)")).to_be_visible()

    frame = load_records(Workspace(ws))
    rejected = frame[frame.decision == "reject"]
    assert list(rejected["reason"]) == ["unsafe_html"] and "<script>" in rejected["output"].iloc[0]

    page.reload()
    wait_idle(page)
    search(page, "script tag")
    expect(page.get_by_text("Decision: reject (unsafe_html)")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid='stSidebar']").get_by_text("0 kept · 1 rejected · 240 undecided")).to_be_visible()


def test_load_a_file_from_a_path_and_see_its_problems(served, tmp_path):
    url, page, ws = served
    data = tmp_path / "mine.jsonl"
    data.write_text(json.dumps({"instruction": "Name a colour.", "output": "Teal"}) + "\n{bad line\n", encoding="utf-8")
    load_path(page, url, data)
    expect(page.get_by_text("1 records added")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("1 problem:")).to_be_visible()
    assert len(load_records(Workspace(ws))) == 1


def test_upload_a_file_and_browse_it(served, tmp_path):
    url, page, ws = served
    data = tmp_path / "uploaded.csv"
    data.write_text('instruction,input,output\n"Translate ""cat"" to French",,chat\n', encoding="utf-8")
    page.goto(f"{url}/load")
    wait_idle(page)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(data))
    wait_idle(page)
    page.get_by_role("button", name="Load the file").click()
    wait_idle(page)
    expect(page.get_by_text("1 records added")).to_be_visible(timeout=30_000)
    frame = load_records(Workspace(ws))
    assert list(frame["instruction"]) == ['Translate "cat" to French'] and list(frame["dataset"]) == ["uploaded"]
    assert (ws / "uploads" / "uploaded.csv").read_bytes() == data.read_bytes()
    page.get_by_text("Browse the records").click()
    wait_idle(page)
    expect(page.get_by_text("1 of 1 records match")).to_be_visible(timeout=30_000)


def test_quality_page_shows_flags_with_highlighted_evidence_and_rejects_them(served):
    url, page, ws = served
    from curation.demo import load_demo

    load_demo(Workspace(ws))
    page.goto(f"{url}/quality")
    wait_idle(page)
    expect(page.get_by_text("carry at least one flag")).to_be_visible(timeout=60_000)
    page.get_by_role("tab", name="Signals").click()
    wait_idle(page)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Signal").locator("input").fill("refusal")
    page.keyboard.press("Enter")
    wait_idle(page)
    mark = page.locator("div.record-text mark").first
    expect(mark).to_be_visible(timeout=30_000)
    assert "sorry" in mark.inner_text().lower()
    # refusal is a review flag (issue 12: measured precision below 0.9): no bulk reject, a queue on the Review page.
    expect(page.get_by_role("button", name="Reject all 4")).to_have_count(0)
    page.get_by_role("button", name="Review these 4 records").click()
    wait_idle(page)
    expect(page.get_by_text("Record 1 of 4", exact=False)).to_be_visible(timeout=30_000)
    # exact_duplicate is a reject flag: every record it marks goes in one click.
    page.goto(f"{url}/quality")
    wait_idle(page)
    page.get_by_role("tab", name="Signals").click()
    wait_idle(page)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Signal").locator("input").fill("exact_duplicate")
    page.keyboard.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Reject all 5").click()
    wait_idle(page)
    eventually(page, lambda: (load_records(Workspace(ws))["reason"] == "exact_duplicate").sum() == 5)
    frame = load_records(Workspace(ws))
    assert (frame["reason"] == "exact_duplicate").sum() == 5 and (frame["reason"] == "refusal").sum() == 0


def test_map_builds_in_the_background_and_a_lasso_selection_is_rejected(served):
    url, page, ws = served
    from curation.demo import load_demo

    load_demo(Workspace(ws))
    page.goto(f"{url}/map")
    wait_idle(page)
    page.get_by_role("button", name="Build the map").click()
    expect(page.get_by_text("Semantic search")).to_be_visible(timeout=240_000)
    wait_idle(page)
    lasso_the_map(page)
    wait_idle(page)
    heading = page.get_by_text("selected on the map")
    expect(heading).to_be_visible(timeout=30_000)
    n = int(heading.inner_text().split()[0].replace(",", ""))
    assert n > 0
    page.get_by_role("button", name=f"Reject {n:,}").click()
    wait_idle(page)
    eventually(page, lambda: (load_records(Workspace(ws))["decision"] == "reject").sum() == n)


def test_duplicates_found_in_the_background_compared_side_by_side_rejected_and_undone(served):
    url, page, ws = served
    from curation.demo import load_demo

    load_demo(Workspace(ws))
    page.goto(f"{url}/duplicates")
    wait_idle(page)
    page.get_by_role("button", name="Find duplicates").click()
    expect(page.get_by_text("Threshold sweep")).to_be_visible(timeout=240_000)
    assert list((Workspace(ws).root / "groups").glob("*.parquet"))  # the groups found, saved for the export
    wait_idle(page)
    expect(page.get_by_text("Group 1:")).to_be_visible(timeout=30_000)
    assert page.locator(".diff-text").count() >= 2
    keep = page.get_by_role("button", name="Keep the representative, reject")
    n = int(keep.inner_text().split()[-1])
    keep.click()
    wait_idle(page)
    rejected = lambda: load_records(Workspace(ws)).query("decision == 'reject'")  # noqa: E731
    eventually(page, lambda: len(rejected()) == n)
    assert rejected()["reason"].str.startswith("near_duplicate_of:").all()
    apply_all = page.get_by_role("button", name="Apply to all groups")
    total = int(apply_all.inner_text().split()[-1].replace(",", ""))
    apply_all.click()
    wait_idle(page)
    eventually(page, lambda: len(rejected()) == total)
    page.get_by_role("button", name="Undo every duplicate rejection").click()
    wait_idle(page)
    eventually(page, lambda: len(rejected()) == 0)


def test_export_choose_template_preview_write_and_download(served, tmp_path):
    import zipfile

    url, page, ws = served
    from curation.demo import load_demo

    load_demo(Workspace(ws))
    page.goto(f"{url}/export")
    wait_idle(page)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Template").locator("input").fill("llama-3")
    page.keyboard.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("Preview")).to_be_visible(timeout=60_000)
    expect(page.locator("mark", has_text="<|start_header_id|>").first).to_be_visible()
    folder = page.get_by_role("textbox", name="Write to this folder on the server")
    folder.fill(str(tmp_path / "export"))
    folder.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Export", exact=True).click()
    expect(page.get_by_text("Wrote 237 records")).to_be_visible(timeout=120_000)  # the 4 empty outputs are blocked
    with page.expect_download() as download:
        page.get_by_role("button", name="Download (zip)").click()
    saved = tmp_path / "export.zip"
    download.value.save_as(saved)
    names = zipfile.ZipFile(saved).namelist()
    assert {"export/manifest.json", "export/train.jsonl", "export/test.jsonl"} <= set(names)
    first = json.loads((tmp_path / "export" / "train.jsonl").read_text().splitlines()[0])
    assert first["text"].startswith("<|begin_of_text|>")


def sidebar_link(page, name: str) -> None:
    """Go to another page the way a curator does (the session, and its state, stay)."""
    page.locator("[data-testid='stSidebar']").get_by_role("link", name=name, exact=True).click()
    wait_idle(page)


def test_the_filter_and_page_options_follow_the_curator_between_pages(served):
    url, page, ws = served
    from curation.demo import load_demo

    load_demo(Workspace(ws))
    page.goto(url)
    wait_idle(page)
    search(page, "recipe")
    expect(page.get_by_text("11 of 241 records match")).to_be_visible(timeout=30_000)

    sidebar_link(page, "Quality")
    expect(page.get_by_text("11 records ·")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Filtered: search “recipe” — 11 of 241 records")).to_be_visible()  # why only 11 are here
    page.get_by_role("tab", name="Signals").click()
    page.locator("[data-testid='stSelectbox']").filter(has_text="Signal").locator("input").fill("pii")
    page.keyboard.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("11 records ·")).to_be_visible()  # still filtered after an interaction here

    sidebar_link(page, "Export")
    page.locator("[data-testid='stSelectbox']").filter(has_text="Template").locator("input").fill("chatml")
    page.keyboard.press("Enter")
    wait_idle(page)
    sidebar_link(page, "Records")
    expect(page.get_by_text("11 of 241 records match")).to_be_visible(timeout=30_000)
    expect(page.get_by_placeholder("words in instruction, input, output or conversation")).to_have_value("recipe")
    sidebar_link(page, "Export")
    expect(page.get_by_role("combobox", name="Template")).to_have_value(re.compile(r"^chatml:"))

    sidebar_link(page, "Quality")
    page.get_by_role("button", name="Clear the filter").click()
    wait_idle(page)
    expect(page.get_by_text("241 records ·")).to_be_visible(timeout=30_000)
    sidebar_link(page, "Records")
    expect(page.get_by_text("241 of 241 records match")).to_be_visible(timeout=30_000)


def test_records_a_ticked_row_is_the_record_shown_even_after_a_filter_change(served):
    url, page, ws = served
    from curation.demo import load_demo

    load_demo(Workspace(ws))
    frame = load_records(Workspace(ws))
    page.goto(url)
    wait_idle(page)
    shown = page.get_by_role("combobox", name="Record")
    expect(shown).to_have_value(re.compile(f"^{frame['record_id'].iloc[0]} "), timeout=30_000)
    grid = page.locator("[data-testid='stDataFrame']").first.bounding_box()
    page.mouse.click(grid["x"] + 15, grid["y"] + 35 * 4 + 17)  # the tick box of row 4 (rows are 35 px, under the header)
    wait_idle(page)
    expect(shown).to_have_value(re.compile(f"^{frame['record_id'].iloc[3]} "))
    ticked = page.locator("[data-testid='stDataFrame']").first.locator("tr[aria-selected='true']")  # the grid's accessible rows
    expect(ticked.locator("td").first).to_have_text(frame["record_id"].iloc[3])
    other = next(s for s in frame["source"].unique() if s != frame["source"].iloc[3])
    page.locator("[data-testid='stMultiSelect']").filter(has_text="Source").locator("input").fill(other)
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_idle(page)
    # Row 4's record is filtered out: the new table ticks its first row, and that is the record shown.
    first = frame[frame["source"] == other]["record_id"].iloc[0]
    expect(shown).to_have_value(re.compile(f"^{first} "))
    expect(ticked).to_have_count(1)
    expect(ticked.locator("td").first).to_have_text(first)


def test_score_a_sample_with_the_bundled_model_and_sort_by_it(served):
    """Quality → Score: rank by IFD (the bundled SmolLM2), score a sample of 5 in the background, sort best first."""
    url, page, ws = served
    from curation.annotated import annotate
    from curation.demo import load_demo
    from curation.scorers.ranked import quality_score

    load_demo(Workspace(ws))
    page.goto(f"{url}/quality")
    wait_idle(page)
    page.get_by_role("tab", name="Score").click()
    wait_idle(page)
    expect(page.get_by_text("rank by answer length in words").first).to_be_visible(timeout=60_000)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Rank acceptable records by").locator("input").fill("ifd")
    page.keyboard.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Use this ranker").click()
    wait_idle(page)
    expect(page.get_by_text("0 of 241 records shown are scored by")).to_be_visible(timeout=30_000)
    box = page.get_by_label("Records to score")
    box.fill("5")
    box.press("Enter")
    wait_idle(page)
    expect(page.get_by_text("5 to compute")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Score 5 records with ifd").click()
    expect(page.get_by_text("Scored 5 of 5 records")).to_be_visible(timeout=300_000)
    expect(page.get_by_text("5 of 241 records shown are scored by")).to_be_visible(timeout=30_000)
    page.get_by_text("best first").click()
    wait_idle(page)
    scored = quality_score(Workspace(ws), annotate(Workspace(ws), compute=("signals",)))
    best = scored.sort_values(["score", "record_id"], ascending=[False, True]).iloc[0]
    assert best["ranked_by"] == best["ranked_by"]  # the best record is one the model scored (not a median stand-in)
    inspect = page.locator("[data-testid='stSelectbox']").filter(has_text="Inspect").filter(visible=True).locator("input")
    # the first record of the list, best first, is the one inspected
    expect(inspect).to_have_value(re.compile(rf"^{best['record_id']} — {best['score']:.3f} — "), timeout=30_000)


def test_select_the_best_n_compare_apply_and_undo(served):
    """Select: plan 120 of the demo's 241 with every strategy (MiniLM embeddings, signals), apply coverage, undo it."""
    url, page, ws = served
    from curation.demo import load_demo

    load_demo(Workspace(ws))
    page.goto(f"{url}/select")
    wait_idle(page)
    box = page.get_by_label("Records to choose")
    box.fill("120")
    box.press("Enter")
    wait_idle(page)
    page.get_by_text("coverage", exact=True).first.click()
    wait_idle(page)
    page.get_by_role("button", name="Plan the selection").click()
    apply = page.get_by_role("button", name=re.compile(r"^Apply: keep \d+, reject \d+$"))
    expect(apply).to_be_visible(timeout=300_000)
    keep, reject = map(int, re.findall(r"\d+", apply.inner_text()))
    assert keep + reject == 241 and 0 < keep <= 120
    expect(apply).to_be_disabled()  # most of the pool would leave: the curator ticks it first
    page.get_by_text(re.compile(r"^Reject the [\d,]+ records left out")).click()
    wait_idle(page)
    apply.click()
    wait_idle(page)
    eventually(page, lambda: (load_records(Workspace(ws))["reason"] == "selected:coverage").sum() == keep)
    frame = load_records(Workspace(ws))
    assert (frame["reason"] == "not_selected:budget").sum() == reject
    page.get_by_role("button", name="Undo the last selection").click()
    wait_idle(page)
    assert (load_records(Workspace(ws))["decision"] == "undecided").all()


SLOW = 180_000  # ms: on a loaded 2-core machine one run of the page took over 30 s (a wait, not an assertion on time)


def shot(page, folder, name: str) -> None:
    """A screenshot of the whole page, kept with the test's files (looked at while writing the journey)."""
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_curators_day_review_by_keyboard_edit_bulk_fix_remove_restore_and_undo_a_lasso(served, tmp_path):
    """Issue 17: a 50-record queue reviewed by keyboard alone, two records edited (one by a bulk fix), a dataset
    removed and restored, a lasso action on the map undone; every decision and edit names the curator."""
    from curation import decisions, edits
    from curation.atlas import build, save_settings
    from curation.demo import load_demo
    from curation.ingest import ingest
    from curation.remove import removed_datasets
    from curation.store import dataset_sizes

    url, page, ws_path = served
    ws = Workspace(ws_path)
    load_demo(ws)
    rows = [{"instruction": f"Batch question {i}: what is {i} plus {i}?", "output": f"{i} plus {i} is {2 * i}."} for i in range(50)]
    rows[7]["output"] += "<|endoftext|>"  # the bulk fix's one record
    (tmp_path / "batch.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ingest(ws, tmp_path / "batch.jsonl", name="batch")
    save_settings(ws, model="static")  # fast mode: the map of 291 records is ready in seconds (plus UMAP's compile)
    build(ws, load_records(ws))

    page.goto(url)
    wait_idle(page, SLOW)
    sidebar = page.locator("[data-testid='stSidebar']")
    curator = sidebar.get_by_role("textbox", name="Curator")
    curator.fill("dana")
    curator.press("Enter")
    wait_idle(page, SLOW)
    sidebar.locator("[data-testid='stMultiSelect']").filter(has_text="Datasets").locator("input").fill("batch")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    wait_idle(page, SLOW)
    expect(page.get_by_text("50 of 291 records match")).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="Review these 50 one by one").click()
    wait_idle(page, SLOW)
    expect(page.get_by_text("Record 1 of 50 · 0 decided")).to_be_visible(timeout=SLOW)
    reason = page.get_by_role("textbox", name="Reason for this queue")
    expect(reason).to_have_value("manual")
    reason.fill("arithmetic_batch")
    reason.press("Enter")
    wait_idle(page, SLOW)
    reason.blur()  # the keys act on the page, not on the text box
    shot(page, tmp_path, "review-start")

    # Keyboard alone: k keeps, x rejects, s skips, p goes back; each key goes on to the next record.
    # Before each key the run it started has finished: a key pressed while the buttons are still being redrawn (e.g.
    # Previous, disabled on the first record) could meet the old button.
    page.keyboard.press("s")
    expect(page.get_by_text("Record 2 of 50")).to_be_visible(timeout=SLOW)
    wait_idle(page, SLOW)
    page.keyboard.press("p")
    expect(page.get_by_text("Record 1 of 50")).to_be_visible(timeout=SLOW)
    wait_idle(page, SLOW)
    for i in range(50):
        page.keyboard.press("x" if i % 5 == 0 else "k")
        nxt = f"Record {i + 2} of 50" if i < 49 else "End of the queue (50 records)"
        expect(page.get_by_text(nxt)).to_be_visible(timeout=SLOW)
        wait_idle(page, SLOW)
    expect(page.get_by_text("50 decided (40 kept, 10 rejected)")).to_be_visible()
    shot(page, tmp_path, "review-end")
    frame = load_records(ws)
    batch = frame[frame["dataset"] == "batch"]
    assert (batch["decision"] != "undecided").sum() == 50 and set(batch["reason"]) == {"arithmetic_batch"}
    assert (batch["decision"] == "reject").sum() == 10
    assert {decisions.history(ws, rid)[-1]["curator"] for rid in batch["record_id"]} == {"dana"}

    # Edit the last record in place.
    page.keyboard.press("p")
    expect(page.get_by_text("Record 50 of 50")).to_be_visible(timeout=SLOW)
    wait_idle(page, SLOW)
    last = batch["record_id"].iloc[49]
    page.get_by_text("Edit this record").click()
    output = page.get_by_role("textbox", name="Output")
    output.fill("49 plus 49 is 98, since 50 plus 50 is 100.")
    output.blur()  # the form holds the typed text before Save sends it (CI once clicked Save before it had)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Save the edit").click()
    eventually(page, lambda: last in edits.versions(ws))
    wait_idle(page, SLOW)
    expect(page.locator("[data-testid='stCode']").filter(has_text="since 50 plus 50 is 100")).to_be_visible(timeout=SLOW)
    shot(page, tmp_path, "review-edited")
    # And one by a bulk fix over the queue: the dry run's count and sample first, then apply.
    page.get_by_text("Fix every record in this queue (50)").click()
    page.get_by_role("button", name="Preview on the 50 records here").click()
    wait_idle(page, SLOW)
    expect(page.get_by_text("1 of 1 matching records would change")).to_be_visible(timeout=SLOW)
    shot(page, tmp_path, "bulk-fix-preview")
    assert edits.edit_history(ws, batch["record_id"].iloc[7])[1:] == []  # the dry run wrote nothing
    page.get_by_role("button", name="Apply strip_end_marker to 1 records").click()
    wait_idle(page, SLOW)
    frame = load_records(ws).set_index("record_id")
    assert frame.loc[batch["record_id"].iloc[7], "output"] == "7 plus 7 is 14."
    assert frame.loc[last, "output"] == "49 plus 49 is 98, since 50 plus 50 is 100."
    assert [v["curator"] for v in edits.edit_history(ws, last)[1:]] == ["dana"]
    assert edits.edit_history(ws, batch["record_id"].iloc[7])[-1]["reason"] == "fix:strip_end_marker"

    # Remove the dataset (the confirmation says what goes), then restore it whole.
    sidebar_link(page, "Load data")
    page.get_by_role("combobox", name="Dataset", exact=True).fill("batch")
    page.keyboard.press("Enter")
    wait_idle(page, SLOW)
    page.get_by_role("button", name="Remove…").click()
    wait_idle(page, SLOW)
    expect(page.get_by_text("50 records")).to_be_visible()
    expect(page.get_by_text("2 edits")).to_be_visible()
    shot(page, tmp_path, "remove-confirm")
    page.get_by_role("button", name="Yes, remove batch").click()
    wait_idle(page, SLOW)
    assert "batch" not in dataset_sizes(ws) and removed_datasets(ws)[0]["dataset"] == "batch"
    expect(sidebar.get_by_text("batch")).to_have_count(0)
    shot(page, tmp_path, "removed")
    page.get_by_role("button", name="Restore").click()
    wait_idle(page, SLOW)
    assert dataset_sizes(ws)["batch"] == 50
    restored = load_records(ws).set_index("record_id")
    assert (restored.loc[batch["record_id"], "reason"] == "arithmetic_batch").all()
    assert restored.loc[last, "output"] == "49 plus 49 is 98, since 50 plus 50 is 100."

    # The map: a lasso rejects what it caught, and its Undo gives exactly those records their decision back.
    before = load_records(ws).set_index("record_id")[["decision", "reason"]]
    sidebar_link(page, "Map")
    expect(page.get_by_text("Semantic search")).to_be_visible(timeout=120_000)
    wait_idle(page, SLOW)
    lasso_the_map(page)
    wait_idle(page, SLOW)
    heading = page.get_by_text("selected on the map")
    expect(heading).to_be_visible(timeout=SLOW)
    n = int(heading.inner_text().split()[0].replace(",", ""))
    page.get_by_role("button", name=f"Reject {n:,}").click()
    wait_idle(page, SLOW)
    after = load_records(ws).set_index("record_id")[["decision", "reason"]]
    changed = (after != before).any(axis=1)
    assert changed.sum() > 0 and (after.loc[changed, "decision"] == "reject").all()
    expect(page.get_by_text(re.compile(r"Last action here: reject [\d,]+ record"))).to_be_visible()
    shot(page, tmp_path, "map-lasso")
    page.get_by_role("button", name="Undo it").click()
    wait_idle(page, SLOW)
    assert load_records(ws).set_index("record_id")[["decision", "reason"]].equals(before)
    expect(page.get_by_text("Last action here")).to_have_count(0)

    # A semantic-search hit opens the record.
    box = page.get_by_placeholder("find records about…")
    box.fill("my wifi keeps dropping")
    box.press("Enter")
    expect(page.get_by_text("Nearest to")).to_be_visible(timeout=60_000)
    wait_idle(page, SLOW)
    grid = page.locator("[data-testid='stDataFrame']").filter(has_text="similarity").first.bounding_box()
    page.mouse.click(grid["x"] + 15, grid["y"] + 35 + 17)  # the tick box of the first hit
    wait_idle(page, SLOW)
    expect(page.get_by_text("Record 1 of 10")).to_be_visible(timeout=SLOW)
    shot(page, tmp_path, "search-hit-opened")


def test_generate_with_no_endpoint_then_a_local_one_and_open_the_new_dataset(served):
    """A new user on the Generate page: told that no endpoint is configured and, on a run, that nothing answers there;
    then a local OpenAI-compatible server (the scripted stub) writes 2 records, which open on the Records page."""
    from curation.demo import load_demo
    from tests.curation.generate.stub import GenStub, scripted
    from tests.curation.generate.test_client import dead_port

    url, page, ws = served
    load_demo(Workspace(ws))
    stub = GenStub(scripted)
    try:
        page.goto(f"{url}/generate")
        wait_idle(page, SLOW)
        expect(page.get_by_text("No endpoint is configured")).to_be_visible(timeout=SLOW)

        def fill(label: str, value) -> None:
            box = page.get_by_label(label, exact=True)
            box.fill(str(value))
            box.press("Enter")
            wait_idle(page, SLOW)

        page.get_by_role("combobox", name="Seeds").click()
        page.get_by_role("option", name="demo", exact=True).click()
        wait_idle(page, SLOW)
        fill("Records", 2)
        fill("Endpoint (OpenAI-compatible base URL)", f"http://127.0.0.1:{dead_port()}/v1")
        page.get_by_role("button", name="Generate 2 records with self-instruct").click()
        expect(page.get_by_text("nothing answers at")).to_be_visible(timeout=60_000)
        wait_idle(page, SLOW)
        fill("Endpoint (OpenAI-compatible base URL)", stub.url)
        page.get_by_role("button", name="Check the endpoint").click()
        expect(page.get_by_text("it lists stub-model")).to_be_visible(timeout=SLOW)
        page.get_by_role("button", name="Generate 2 records with self-instruct").click()
        expect(page.get_by_text(re.compile(r"2 accepted \(2 new records in self-instruct-demo\)"))).to_be_visible(timeout=120_000)
        wait_idle(page, SLOW)
        page.get_by_role("button", name="Open self-instruct-demo on the Records page").click()
        wait_idle(page, SLOW)
        expect(page.get_by_text(re.compile(r"^2 of [\d,]+ records match"))).to_be_visible(timeout=SLOW)
        assert set(load_records(Workspace(ws), "self-instruct-demo")["source"]) == {"synthetic"}
    finally:
        stub.close()
