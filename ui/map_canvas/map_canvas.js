// The fast map view: points arrive as binary arrays (Float32 x, y; Uint16 colour codes; UTF-8 hover texts with
// Uint32 offsets) in one Streamlit component message and are drawn into a 2-D canvas pixel buffer.
// No library, no network: the Streamlit component protocol (postMessage) is spoken directly.
// Pan: drag; zoom: wheel (a big map moves its last drawing while dragged, then draws its points again); hover: the record's text (as text); Lasso / Box: select, sent back as Int32 rows
// prefixed by the map's stamp (so a selection of an older map is never applied to a newer one).
"use strict";
(function () {
  const send = (type, data) => window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
  const el = (id) => document.getElementById(id);
  const pointsCanvas = el("points"), over = el("over"), tip = el("tip"), wrap = el("wrap"), legend = el("legend"), status = el("status");
  const ctx = pointsCanvas.getContext("2d"), octx = over.getContext("2d");
  const asArray = (u8, Type) => { const c = u8.slice(); return new Type(c.buffer, 0, c.byteLength / Type.BYTES_PER_ELEMENT); };

  let S = null;            // the map: {n, x, y, codes, colors(Uint32 ABGR), texts, offsets, stamp, ...}
  let view = null;         // [x0, x1, y0, y1] data range shown
  let mode = "pan";
  let selected = null;     // Uint8Array flags, or null
  let selectedCount = 0;
  let grid = null;         // spatial index for hover
  let width = 0, height = 0, frameRequested = false, drawnOnce = false;
  const decoder = new TextDecoder();

  function hexToABGR(hex) {
    const h = hex.replace("#", "");
    const r = parseInt(h.slice(0, 2), 16), g = parseInt(h.slice(2, 4), 16), b = parseInt(h.slice(4, 6), 16);
    return (255 << 24) | (b << 16) | (g << 8) | r;
  }

  function buildGrid() {
    const G = 256, n = S.n, cells = new Int32Array(G * G + 1), item = new Int32Array(n), cellOf = new Int32Array(n);
    const [x0, x1, y0, y1] = S.bounds, sx = G / (x1 - x0 || 1), sy = G / (y1 - y0 || 1);
    for (let i = 0; i < n; i++) {
      const cx = Math.min(G - 1, Math.max(0, ((S.x[i] - x0) * sx) | 0)), cy = Math.min(G - 1, Math.max(0, ((S.y[i] - y0) * sy) | 0));
      cellOf[i] = cy * G + cx; cells[cellOf[i] + 1]++;
    }
    for (let c = 0; c < G * G; c++) cells[c + 1] += cells[c];
    const fill = cells.slice(0, G * G);
    for (let i = 0; i < n; i++) item[fill[cellOf[i]]++] = i;
    grid = { G, cells, item, sx, sy };
  }

  function toScreen(i) {
    const [x0, x1, y0, y1] = view;
    return [(S.x[i] - x0) / (x1 - x0) * width, (1 - (S.y[i] - y0) / (y1 - y0)) * height];
  }

  function draw() {
    frameRequested = false;
    if (!S) return;
    const img = ctx.createImageData(width, height), px = new Uint32Array(img.data.buffer);
    px.fill(0xffffffff);
    const [x0, x1, y0, y1] = view, sx = width / (x1 - x0), sy = height / (y1 - y0);
    const r = S.point, faded = 0xffe8e8ee, dark = 0xff222222;
    const put = (i, color) => {
      const px0 = ((S.x[i] - x0) * sx) | 0, py0 = (height - (S.y[i] - y0) * sy) | 0;
      if (px0 < 0 || py0 < 0 || px0 >= width - r || py0 >= height - r) return;
      for (let dy = 0; dy < r; dy++) { const row = (py0 + dy) * width + px0; for (let dx = 0; dx < r; dx++) px[row + dx] = color; }
    };
    const n = S.n, colors = S.colors, codes = S.codes;
    if (selected) {
      for (let i = 0; i < n; i++) if (!selected[i]) put(i, faded);
      for (let i = 0; i < n; i++) if (selected[i]) put(i, colors[codes[i]]);
    } else {
      for (let i = 0; i < n; i++) put(i, colors[codes[i]]);
    }
    for (const i of S.found) put(i, dark);
    ctx.putImageData(img, 0, 0);
    keepSnapshot(img);
    for (const i of S.found) {  // search results: black stars (drawn as rings)
      const [a, b] = toScreen(i);
      ctx.beginPath(); ctx.arc(a, b, 6, 0, 2 * Math.PI); ctx.lineWidth = 2; ctx.strokeStyle = "#000"; ctx.stroke();
    }
    placeLabels();
    document.body.dataset.draws = String(++draws);
    if (!drawnOnce) {
      drawnOnce = true;
      pointsCanvas.dataset.drawn = String(n);
      document.body.dataset.firstDrawMs = String(performance.now());
    }
  }

  function request() { if (!frameRequested) { frameRequested = true; requestAnimationFrame(draw); } }

  // Pan and zoom of a big map: each move shows the last full drawing moved and scaled (one image copy, whatever the
  // number of points) and the points are drawn again once the moves pause, so dragging a million points stays smooth.
  const PREVIEW_FROM = 50000, SETTLE_MS = 150;
  let snapshot = null, snapshotView = null, settle = 0, draws = 0, previews = 0;
  function keepSnapshot(img) {
    if (S.n < PREVIEW_FROM) { snapshot = null; return; }
    if (!snapshot) snapshot = document.createElement("canvas");
    snapshot.width = width; snapshot.height = height;
    snapshot.getContext("2d").putImageData(img, 0, 0);
    snapshotView = view.slice();
  }
  function moved() {
    if (!snapshot || snapshot.width !== width) { request(); return; }
    const [x0, x1, y0, y1] = view, [a0, a1, b0, b1] = snapshotView;
    const left = (a0 - x0) / (x1 - x0) * width, top = (1 - (b1 - y0) / (y1 - y0)) * height;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, width, height);
    ctx.drawImage(snapshot, left, top, (a1 - a0) / (x1 - x0) * width, (b1 - b0) / (y1 - y0) * height);
    placeLabels();
    document.body.dataset.previews = String(++previews);
    clearTimeout(settle);
    settle = setTimeout(request, SETTLE_MS);
  }

  function placeLabels() {
    for (const old of wrap.querySelectorAll(".label")) old.remove();
    const [x0, x1, y0, y1] = view;
    for (const l of S.labels) {
      const a = (l.x - x0) / (x1 - x0) * width, b = (1 - (l.y - y0) / (y1 - y0)) * height;
      if (a < 0 || b < 0 || a > width || b > height) continue;
      const d = document.createElement("div");
      d.className = "label"; d.textContent = l.text; d.style.left = a + "px"; d.style.top = b + "px";
      wrap.appendChild(d);
    }
  }

  function textOf(i) { return S.offsets ? decoder.decode(S.texts.subarray(S.offsets[i], S.offsets[i + 1])) : "(loading the text…)"; }

  function nearest(mx, my) {
    const [x0, x1, y0, y1] = view, dx = (x1 - x0) / width, dy = (y1 - y0) / height;
    const x = x0 + mx * dx, y = y0 + (height - my) * dy, rad = 6;
    const G = grid.G, bx = S.bounds[0], by = S.bounds[2];
    const cx0 = Math.max(0, ((x - rad * dx - bx) * grid.sx) | 0), cx1 = Math.min(G - 1, ((x + rad * dx - bx) * grid.sx) | 0);
    const cy0 = Math.max(0, ((y - rad * dy - by) * grid.sy) | 0), cy1 = Math.min(G - 1, ((y + rad * dy - by) * grid.sy) | 0);
    let best = -1, bestD = rad * rad, visited = 0;
    for (let cy = cy0; cy <= cy1; cy++) for (let cx = cx0; cx <= cx1; cx++) {
      const c = cy * G + cx;
      for (let k = grid.cells[c]; k < grid.cells[c + 1]; k++) {
        const i = grid.item[k], ex = (S.x[i] - x) / dx, ey = (S.y[i] - y) / dy, d = ex * ex + ey * ey;
        if (d <= bestD) { bestD = d; best = i; }
        if (++visited > 200000) return best;
      }
    }
    return best;
  }

  function setSelection(rows) {
    selected = new Uint8Array(S.n);
    for (const i of rows) selected[i] = 1;
    selectedCount = rows.length;
    if (!rows.length) selected = null;
    const out = new Int32Array(rows.length + 1);
    out[0] = S.stamp; out.set(rows, 1);
    send("streamlit:setComponentValue", { value: new Uint8Array(out.buffer), dataType: "bytes" });
    updateStatus(); request();
  }

  function selectWhere(test, box) {
    const rows = [];
    for (let i = 0; i < S.n; i++) {
      const [a, b] = toScreen(i);
      if (a < box[0] || a > box[1] || b < box[2] || b > box[3]) continue;
      if (test(a, b)) rows.push(i);
    }
    return rows;
  }

  function inPolygon(poly) {
    return (a, b) => {
      let inside = false;
      for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
        const [xi, yi] = poly[i], [xj, yj] = poly[j];
        if ((yi > b) !== (yj > b) && a < (xj - xi) * (b - yi) / (yj - yi) + xi) inside = !inside;
      }
      return inside;
    };
  }

  function updateStatus() {
    status.textContent = S ? `${S.n.toLocaleString()} points` + (selectedCount ? ` · ${selectedCount.toLocaleString()} selected` : "") : "";
  }

  function setMode(m) {
    mode = m;
    for (const b of ["pan", "lasso", "box"]) el(b).classList.toggle("on", b === m);
    over.style.cursor = m === "pan" ? "grab" : "crosshair";
  }
  for (const b of ["pan", "lasso", "box"]) el(b).addEventListener("click", () => setMode(b));
  el("clear").addEventListener("click", () => { if (S) setSelection([]); });
  el("reset").addEventListener("click", () => { if (S) { view = S.bounds.slice(); request(); } });

  let drag = null;
  over.addEventListener("mousedown", (e) => {
    if (!S) return;
    drag = { x: e.offsetX, y: e.offsetY, view: view.slice(), path: [[e.offsetX, e.offsetY]] };
  });
  window.addEventListener("mouseup", (e) => {
    if (!drag || !S) { drag = null; return; }
    const d = drag; drag = null; octx.clearRect(0, 0, width, height);
    if (mode === "pan") { clearTimeout(settle); request(); return; }  // the drag ended: the points where they are now
    if (mode === "lasso" && d.path.length > 2) {
      const xs = d.path.map((p) => p[0]), ys = d.path.map((p) => p[1]);
      setSelection(selectWhere(inPolygon(d.path), [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)]));
    } else if (mode === "box") {
      const r = over.getBoundingClientRect(), ex = e.clientX - r.left, ey = e.clientY - r.top;
      const box = [Math.min(d.x, ex), Math.max(d.x, ex), Math.min(d.y, ey), Math.max(d.y, ey)];
      if (box[1] - box[0] > 2 && box[3] - box[2] > 2) setSelection(selectWhere(() => true, box));
    }
  });
  over.addEventListener("mousemove", (e) => {
    if (!S) return;
    if (drag) {
      tip.style.display = "none";
      if (mode === "pan") {
        const [x0, x1, y0, y1] = drag.view, dx = (e.offsetX - drag.x) / width * (x1 - x0), dy = (e.offsetY - drag.y) / height * (y1 - y0);
        view = [x0 - dx, x1 - dx, y0 + dy, y1 + dy]; moved();
      } else {
        octx.clearRect(0, 0, width, height); octx.strokeStyle = "#333"; octx.lineWidth = 1; octx.setLineDash([4, 3]);
        if (mode === "lasso") {
          drag.path.push([e.offsetX, e.offsetY]);
          octx.beginPath(); octx.moveTo(...drag.path[0]); for (const p of drag.path) octx.lineTo(...p); octx.closePath(); octx.stroke();
        } else {
          octx.strokeRect(drag.x, drag.y, e.offsetX - drag.x, e.offsetY - drag.y);
        }
      }
      return;
    }
    if (!grid) buildGrid();  // built on the first hover, not before the first draw
    const i = nearest(e.offsetX, e.offsetY);
    if (i < 0) { tip.style.display = "none"; return; }
    const name = S.names.length > 1 ? S.names[S.codes[i]] + ": " : "";
    tip.textContent = name + textOf(i);  // text, never HTML
    tip.style.display = "block";
    tip.style.left = Math.min(e.offsetX + 12, width - 300) + "px";
    tip.style.top = (e.offsetY + 12) + "px";
  });
  over.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  over.addEventListener("wheel", (e) => {
    if (!S) return;
    e.preventDefault();
    const f = Math.exp(e.deltaY * 0.0015), [x0, x1, y0, y1] = view;
    const cx = x0 + e.offsetX / width * (x1 - x0), cy = y0 + (1 - e.offsetY / height) * (y1 - y0);
    view = [cx - (cx - x0) * f, cx + (x1 - cx) * f, cy - (cy - y0) * f, cy + (y1 - cy) * f];
    moved();
  }, { passive: false });

  function showLegend(names, palette) {
    legend.textContent = "";
    if (names.length < 2) return;
    names.slice(0, 40).forEach((name, k) => {
      const item = document.createElement("span"), sw = document.createElement("span");
      sw.className = "sw"; sw.style.background = palette[k];
      item.appendChild(sw); item.appendChild(document.createTextNode(name));
      legend.appendChild(item);
    });
  }

  function render(args) {
    const sameMap = S && S.stamp === args.stamp && S.n === args.n;
    const x = asArray(args.x, Float32Array), y = asArray(args.y, Float32Array);
    const next = {
      n: args.n, x, y, codes: asArray(args.codes, Uint16Array), colors: Uint32Array.from(args.palette.map(hexToABGR)),
      names: args.names, texts: args.texts.slice(), offsets: args.offsets ? asArray(args.offsets, Uint32Array) : null, stamp: args.stamp,
      labels: args.labels || [], found: args.found || [], point: args.point || 2, bounds: args.bounds,
    };
    S = next;
    if (!sameMap) { view = (args.view || args.bounds).slice(); selected = null; selectedCount = 0; grid = null; }
    showLegend(args.names, args.palette);
    width = Math.max(200, document.body.clientWidth);
    height = args.height;
    for (const c of [pointsCanvas, over]) { c.width = width; c.height = height; }
    wrap.style.width = width + "px"; wrap.style.height = height + "px";
    send("streamlit:setFrameHeight", { height: height + el("bar").offsetHeight + legend.offsetHeight + 8 });
    updateStatus();
    draw();
  }

  // Served maps: the binary parts come as two files that Streamlit serves (its media files): the points first (drawn
  // as soon as they are in), the hover texts after. Each URL is fetched once (same content, same URL).
  const fetched = {};
  async function part(args, name) {
    const url0 = args[name + "_url"];
    if (!fetched[name] || fetched[name].url !== url0) {
      const base = location.pathname.split("/component/")[0];
      const url = /^https?:/.test(url0) ? url0 : location.origin + base + url0;
      const response = await fetch(url);
      if (!response.ok) throw new Error(`The map's ${name} could not be loaded (HTTP ${response.status}): rerun the page.`);
      const whole = new Uint8Array(await response.arrayBuffer()), parts = {};
      for (const [key, [at, length]] of Object.entries(args[name + "_layout"])) parts[key] = whole.subarray(at, at + length);
      fetched[name] = { url: url0, parts };
    }
    return fetched[name].parts;
  }
  let sequence = 0;
  async function receive(args) {
    const mine = ++sequence;
    try {
      if (!args.points_url) { render(args); return; }
      const points = await part(args, "points");
      if (mine !== sequence) return;
      const haveTexts = fetched.texts && fetched.texts.url === args.texts_url;
      render(Object.assign({}, args, points, haveTexts ? fetched.texts.parts : { texts: new Uint8Array(0), offsets: null }));
      if (!haveTexts) {
        const texts = await part(args, "texts");
        if (mine !== sequence || !S) return;
        S.texts = texts.texts.slice(); S.offsets = asArray(texts.offsets, Uint32Array);
        document.body.dataset.textsMs = String(performance.now());
      }
    } catch (err) {
      status.textContent = String(err.message || err);
    }
  }
  window.addEventListener("message", (e) => {
    if (e.data && e.data.type === "streamlit:render") receive(e.data.args);
  });
  // For tests and the bench: where a point is on screen, and the map's size.
  window.mapCanvas = { screenOf: (i) => toScreen(i), size: () => (S ? S.n : 0) };
  setMode("pan");
  send("streamlit:componentReady", { apiVersion: 1 });
})();
