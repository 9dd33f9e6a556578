// The live page: draws the list of DataFlows, or one DataFlow's chain, from the server's JSON.
// Every value from the server is written with textContent or setAttribute, never as HTML.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const BOX_W = 140, BOX_H = 86, GAP_X = 156, GAP_Y = 26, PAD = 16;

  const byId = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function svgEl(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, String(value));
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // A state as a CSS class name: letters only, so no value can inject anything.
  function token(value) {
    return String(value || "unknown").toLowerCase().replace(/[^a-z]/g, "") || "unknown";
  }

  function number(value, digits) {
    return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "\u2013";
  }

  function when(iso) {
    if (!iso) return "";
    const moment = new Date(iso);
    return isNaN(moment.getTime()) ? String(iso) : moment.toLocaleTimeString();
  }

  function setLive(state) {
    const live = byId("live");
    live.textContent = state;
    live.className = "live live-" + token(state);
  }

  // --- the list ------------------------------------------------------------------------------

  function showList() {
    byId("list").hidden = false;
    const load = () => {
      fetch("/dataflows.json", { cache: "no-store" })
        .then((reply) => reply.json())
        .then((data) => { setLive("live"); renderList(data); })
        .catch(() => setLive("reconnecting"))
        .finally(() => setTimeout(load, 2000));
    };
    load();
  }

  function renderList(data) {
    const rows = byId("list-rows");
    rows.replaceChildren();
    const dataflows = Array.isArray(data.dataflows) ? data.dataflows : [];
    for (const dataflow of dataflows) {
      const row = el("tr");
      const link = el("a", dataflow.name);
      link.href = "/dataflows/" + encodeURIComponent(dataflow.namespace) + "/" +
        encodeURIComponent(dataflow.name);
      const cell = el("td");
      cell.append(link);
      row.append(el("td", dataflow.namespace), cell,
        el("td", dataflow.status, "state status-" + token(dataflow.status)),
        el("td", dataflow.functions));
      rows.append(row);
    }
    byId("list-empty").hidden = dataflows.length > 0;
    byId("message").textContent = data.leftOut ? data.leftOut + " more not listed" : "";
  }

  // --- one DataFlow --------------------------------------------------------------------------

  function showDataflow(base) {
    byId("dataflow").hidden = false;
    const source = new EventSource(base + "/events");
    source.onmessage = (message) => { setLive("live"); render(JSON.parse(message.data)); };
    source.onerror = () => setLive("reconnecting");
    source.addEventListener("gone", () => {
      source.close();
      setLive("gone");
      byId("message").textContent = "This DataFlow is gone.";
    });
  }

  function render(data) {
    const title = data.namespace + "/" + data.name;
    byId("title").textContent = title;
    document.title = title + " \u2013 kasugai";
    const status = byId("status");
    status.textContent = data.status;
    status.className = "badge status-" + token(data.status);
    byId("message").textContent = data.message || "";
    drawGraph(data.nodes || [], data.edges || []);
    renderHops(data.nodes || []);
    renderRewiring(data.rewiring || {});
    renderEvents(data.events || []);
  }

  // Columns by longest path from a chain's entry (a back edge does not move its target).
  function columns(nodes, edges) {
    const column = new Map(nodes.map((n) => [n.key, 0]));
    for (let round = 0; round < nodes.length; round++) {
      let moved = false;
      for (const edge of edges) {
        const next = (column.get(edge.source) || 0) + 1;
        if (column.has(edge.target) && next > column.get(edge.target) && next < nodes.length) {
          column.set(edge.target, next);
          moved = true;
        }
      }
      if (!moved) break;
    }
    return column;
  }

  function drawGraph(nodes, edges) {
    const graph = byId("graph");
    const column = columns(nodes, edges);
    const rows = new Map();
    const at = new Map();
    for (const node of nodes) {
      const c = column.get(node.key) || 0;
      const r = rows.get(c) || 0;
      rows.set(c, r + 1);
      at.set(node.key, { x: PAD + c * (BOX_W + GAP_X), y: PAD + 12 + r * (BOX_H + GAP_Y) });
    }
    const width = PAD * 2 + Math.max(1, rows.size) * (BOX_W + GAP_X) - GAP_X;
    const height = PAD * 2 + 12 + Math.max(1, ...rows.values()) * (BOX_H + GAP_Y) - GAP_Y;
    graph.setAttribute("viewBox", "0 0 " + width + " " + height);
    graph.setAttribute("width", width);
    graph.setAttribute("height", height);
    const marker = svgEl("marker", {
      id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
    });
    marker.append(svgEl("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
    const defs = svgEl("defs");
    defs.append(marker);
    const parts = [defs];
    for (const edge of edges) {
      const from = at.get(edge.source), to = at.get(edge.target);
      if (!from || !to) continue;
      parts.push(drawEdge(edge, from, to));
    }
    for (const node of nodes) parts.push(drawNode(node, at.get(node.key)));
    graph.replaceChildren(...parts);
  }

  function drawEdge(edge, from, to) {
    const group = svgEl("g", { class: "edge edge-" + token(edge.state) });
    group.dataset.from = edge.source;
    group.dataset.to = edge.target;
    const sx = from.x + BOX_W, sy = from.y + BOX_H / 2;
    const tx = to.x, ty = to.y + BOX_H / 2;
    const bend = Math.max(40, Math.abs(tx - sx) / 2);
    const d = tx > sx
      ? `M${sx},${sy} C${sx + bend},${sy} ${tx - bend},${ty} ${tx},${ty}`
      : `M${sx},${sy} C${sx + 80},${sy + BOX_H} ${tx - 80},${ty + BOX_H} ${tx},${ty}`;
    group.append(svgEl("path", { d: d, class: "wire", "marker-end": "url(#arrow)" }));
    const midX = (sx + tx) / 2, midY = (sy + ty) / 2;
    const label = svgEl("text", { x: midX, y: midY - 18, class: "wire-label" });
    label.append(svgEl("tspan", { x: midX, dy: 0 }, edge.destination || "(no address)"));
    const second = [edge.protocol, edge.state].filter(Boolean).join(" \u00b7 ");
    label.append(svgEl("tspan", { x: midX, dy: 12 }, second));
    group.append(label);
    const title = svgEl("title", {}, edge.reason || edge.state);
    group.append(title);
    return group;
  }

  function drawNode(node, where) {
    const figures = node.figures;
    const group = svgEl("g", {
      class: "node phase-" + token(node.phase),
      transform: "translate(" + where.x + "," + where.y + ")",
    });
    group.dataset.key = node.key;
    group.append(svgEl("rect", { width: BOX_W, height: BOX_H, rx: 7, class: "box" }));
    group.append(svgEl("text", { x: 10, y: 20, class: "node-key" }, node.key));
    group.append(svgEl("text", { x: 10, y: 37, class: "node-phase" }, node.phase));
    const rate = figures
      ? number(figures.requests_per_second, 1) + " req/s \u00b7 " +
        number(figures.errors_per_second, 1) + " err/s"
      : "no figures";
    group.append(svgEl("text", { x: 10, y: 56, class: "node-rate" }, rate));
    const latency = figures && figures.mean_latency_ms !== null
      ? "mean " + number(figures.mean_latency_ms, 2) + " ms" : "";
    group.append(svgEl("text", { x: 10, y: 73, class: "node-latency" }, latency));
    group.append(svgEl("title", {}, node.pod || node.key));
    return group;
  }

  function renderHops(nodes) {
    const rows = byId("hops");
    rows.replaceChildren();
    for (const node of nodes) {
      const figures = node.figures || {};
      const row = el("tr");
      row.dataset.key = node.key;
      const rate = el("td", number(figures.requests_per_second, 1), "rate");
      rate.dataset.rps = String(figures.requests_per_second || 0);
      row.append(
        el("td", node.key),
        el("td", node.phase, "state phase-" + token(node.phase)),
        el("td", node.pod),
        el("td", node.address),
        rate,
        el("td", number(figures.errors_per_second, 1), "errors"),
        el("td", figures.mean_latency_ms == null ? "\u2013"
          : number(figures.mean_latency_ms, 2) + " ms"),
        el("td", number(figures.requests_total, 0)),
        el("td", figures.next_hop || ""),
      );
      rows.append(row);
    }
  }

  function renderRewiring(rewiring) {
    const text = [];
    if (rewiring.inProgress) text.push("Rewiring now, since " + when(rewiring.since) + ".");
    const last = rewiring.last;
    if (last) {
      const took = typeof last.seconds === "number"
        ? "took " + last.seconds.toFixed(3) + " s" : "duration not seen";
      text.push("Last: " + (last.from || []).join(" \u2192 ") + "  \u21d2  " +
        (last.to || []).join(" \u2192 ") + "; " + took + ", done at " + when(last.finishedAt) + ".");
    } else if (!rewiring.inProgress) {
      text.push("No rewiring seen since this server started.");
    }
    byId("rewiring").textContent = text.join(" ");
  }

  function renderEvents(events) {
    const rows = byId("events");
    rows.replaceChildren();
    for (const event of events) {
      const row = el("tr", null, "event-" + token(event.type));
      row.append(el("td", when(event.time)), el("td", event.type), el("td", event.reason),
        el("td", event.message));
      rows.append(row);
    }
    byId("events-empty").hidden = events.length > 0;
  }

  const match = /^\/dataflows\/[^/]+\/[^/]+$/.exec(location.pathname);
  if (match) {
    showDataflow(match[0]);
  } else {
    showList();
  }
})();
