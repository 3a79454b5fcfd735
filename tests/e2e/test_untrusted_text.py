"""Untrusted text in a real browser: what records and curators wrote is shown as text on every page, and the dashboard
answers on loopback only.

A Markdown image `![x](http://…)` in a dataset name, a record, a decision reason or a curator name must never make the
browser fetch it: that leaks to whoever wrote the data that (and when, and from where) a curator opened the page.
A small HTTP server on 127.0.0.1 counts what the browser fetches from it.

Nor may an address written into the data become a link on the page: Markdown (GFM) makes links of bare URLs, "www."
and e-mail addresses even where every Markdown character is escaped.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import socket
import threading
from contextlib import contextmanager
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from curation import decisions
from curation.store import load_records
from curation.workspace import Workspace
from tests.e2e.browser import wait_idle

pytestmark = pytest.mark.e2e

PIXEL = bytes.fromhex(  # a 1×1 transparent PNG
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@contextmanager
def pixel_server():
    """Yields (base URL, list of the `from` tags of every request received)."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            seen.append(parse_qs(urlparse(self.path).query).get("from", [self.path])[0])
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PIXEL)))
            self.end_headers()
            self.wfile.write(PIXEL)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def fetch_image(page, src: str) -> None:
    """What an <img> on the dashboard does: the control showing the counter sees the browser's requests."""
    page.evaluate("src => new Promise(done => { const i = new Image(); i.onload = i.onerror = done; i.src = src; })", src)


def choose(page, label: str, option: str) -> None:
    box = page.locator("[data-testid='stSelectbox']").filter(has_text=label).locator("input")
    box.click()
    box.fill(option)
    page.get_by_role("option").filter(has_text=option).first.click()
    wait_idle(page)


def test_markdown_images_in_records_names_reasons_and_curators_are_never_fetched(served, tmp_path):
    url, page, ws = served
    with pixel_server() as (base, seen):
        def image(where: str) -> str:
            return f"![x]({base}/pixel.png?from={where})"

        planted = [urlparse(base).netloc, "example.org"]  # every address written into the data names one of these

        def nothing_fetched(where: str) -> None:
            """Nothing fetched, and no link on the page to an address from the data."""
            page.wait_for_timeout(700)  # images start loading as soon as an element renders
            assert seen == [], f"{where}: the browser fetched images written into the data: {sorted(set(seen))}"
            links = page.evaluate("marks => [...document.querySelectorAll('a')].map(a => a.getAttribute('href') || '')"
                                  ".filter(href => marks.some(m => href.includes(m)))", planted)
            assert links == [], f"{where}: addresses written into the data became links: {links}"

        page.goto(url)
        wait_idle(page)
        fetch_image(page, f"{base}/pixel.png?from=control")
        assert seen == ["control"], "the browser could not reach the counting server: the test would prove nothing"
        seen.clear()

        picture = {"instruction": f"Describe this picture {image('instruction')}",
                   "output": ("A red square.\n" + image("output") + "\n") * 4,  # a repeated line: flagged, quoted as evidence
                   "category": image("meta")}
        rows = [picture, dict(picture),  # an exact duplicate pair
                {"instruction": f"Name three primary colours {image('instruction')}", "output": "Red, yellow and blue."},
                {"instruction": f"What is the capital of France? {image('instruction')}", "output": f"Paris. {image('output')}"}]
        data = tmp_path / "hostile.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        dataset = f"team {image('dataset')}<b>B</b><a href=\"{base}/n?from=dataset\">nlink</a> www.example.org"

        # Load page: the dataset's name comes back in the success message and in the sidebar.
        page.goto(f"{url}/load")
        wait_idle(page)
        page.get_by_role("tab", name="Path on the server").click()
        page.locator(".st-key-w-load_data-load-path input").fill(str(data))
        page.locator(".st-key-w-load_data-load-path-name input").fill(dataset)
        page.locator(".st-key-w-load_data-load-path-name input").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Load", exact=True).click()
        wait_idle(page)
        expect(page.get_by_text("4 records added")).to_be_visible(timeout=30_000)
        nothing_fetched("Load page")
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_text(dataset)).to_be_visible()  # shown, as text

        frame = load_records(Workspace(ws))
        pair = list(frame.loc[frame["instruction"].str.startswith("Describe"), "record_id"])
        reason = f"off_topic {image('reason')} see {base}/r?from=reason or ops@example.org"
        decisions.decide(Workspace(ws), pair, "reject", reason, curator=f"ann@example.org {image('curator')}")

        # Records: the table, one record open with its decision, meta and history.
        page.goto(url)
        wait_idle(page)
        box = page.get_by_placeholder("words in instruction, input, output or conversation")
        box.fill("picture")
        box.press("Enter")
        wait_idle(page)
        expect(page.get_by_text("2 of 4 records match")).to_be_visible(timeout=30_000)
        nothing_fetched("Records page")
        expect(page.get_by_text(f"Decision: reject ({reason})")).to_be_visible()
        expect(page.get_by_text(dataset).first).to_be_visible()

        # Quality: lengths split by dataset, then the flagged records with their evidence.
        page.goto(f"{url}/quality")
        wait_idle(page)
        expect(page.get_by_text("carry at least one flag")).to_be_visible(timeout=60_000)
        choose(page, "Split by", "dataset")
        page.get_by_role("tab", name="Signals").click()
        wait_idle(page)
        choose(page, "Signal", "repetition")
        evidence = page.get_by_text("Evidence: line repeated")
        expect(evidence).to_be_visible(timeout=30_000)
        nothing_fetched("Quality page")
        assert image("output") in evidence.inner_text()

        # Map: built in the background (four records: no projection to wait for), searched, coloured by dataset.
        page.goto(f"{url}/map")
        wait_idle(page)
        page.get_by_role("button", name="Build the map").click()
        expect(page.get_by_text("Semantic search")).to_be_visible(timeout=180_000)
        wait_idle(page)
        choose(page, "Colour by", "dataset")
        search = page.get_by_placeholder("find records about…")
        search.fill(image("search"))
        search.press("Enter")
        wait_idle(page)
        expect(page.get_by_text("Nearest to")).to_be_visible(timeout=30_000)
        nothing_fetched("Map page")
        expect(page.get_by_text(f"Nearest to “{image('search')}”")).to_be_visible(timeout=30_000)

        # Duplicates: found in the background, a group open side by side.
        page.goto(f"{url}/duplicates")
        wait_idle(page)
        page.get_by_role("button", name="Find duplicates").click()
        expect(page.get_by_text("Group 1:")).to_be_visible(timeout=180_000)
        wait_idle(page)
        nothing_fetched("Duplicates page")

        # Export: the preview, then a template whose error quotes a record.
        page.goto(f"{url}/export")
        wait_idle(page)
        expect(page.get_by_text("Preview")).to_be_visible(timeout=60_000)
        nothing_fetched("Export page")
        choose(page, "Template", "custom")
        template = page.locator(".st-key-w-export-export-custom textarea")
        template.fill("{{ raise_exception(messages[0].content) }}")
        template.press("Control+Enter")
        wait_idle(page)
        expect(page.locator("[data-testid='stAlertContentError']").first).to_be_visible(timeout=30_000)
        nothing_fetched("Export page, a template error quoting a record")
        expect(page.get_by_text("from=instruction").first).to_be_visible()


def non_loopback_addresses() -> list[str]:
    """This machine's own IPv4 addresses other than loopback (none on a machine without a network)."""
    found = set()
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only asks which local address would route there
        found.add(probe.getsockname()[0])
    except OSError:
        pass
    finally:
        probe.close()
    try:
        found.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    except OSError:
        pass
    return sorted(a for a in found if not ipaddress.ip_address(a).is_loopback and not ipaddress.ip_address(a).is_unspecified)


def reachable(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def test_the_dashboard_answers_on_loopback_only(served):
    url, _, _ = served
    port = urlparse(url).port
    assert reachable("127.0.0.1", port)
    usable = []
    with socket.socket() as listener:  # an address counts only if a server listening on every interface answers on it
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        usable = [a for a in non_loopback_addresses() if reachable(a, listener.getsockname()[1])]
    if not usable:
        pytest.skip("this machine has no non-loopback address to try")
    assert [a for a in usable if reachable(a, port)] == [], "the dashboard answers on a network address"
