//! The live session's control page: one self-contained document for a shared screen.
//! Its buttons are forms (they work without script); its script polls `/state` once
//! a second and draws the fault in force, the feed and the ground truth. Everything
//! the service or a candidate wrote reaches the page as text (`textContent`), never
//! as markup.

use super::Mode;
use super::scenarios::Offered;
use crate::report::html::esc;

/// The page for `exercise`, with a button per fault and per scenario.
pub fn render(exercise: &str, modes: &[Mode], scenarios: &[Offered]) -> String {
    let mut faults = String::new();
    let mut targets: Vec<&str> = Vec::new();
    for (target, _, _) in modes {
        if !targets.contains(target) {
            targets.push(target);
        }
    }
    for target in &targets {
        faults.push_str(&format!("<div class=target><h3>{}</h3>", esc(target)));
        for (t, mode, what) in modes.iter().filter(|(t, _, _)| t == target) {
            faults.push_str(&format!(
                "<form method=post action=\"/fault/{t}/{mode}\"><button id=\"fault-{t}-{mode}\" title=\"{what}\">{mode}</button></form>",
                t = esc(t),
                mode = esc(mode),
                what = esc(what)
            ));
        }
        faults.push_str("</div>");
    }
    if modes.is_empty() {
        faults.push_str("<p class=muted>This exercise has no downstream to fault.</p>");
    }
    let mut plays = String::new();
    for s in scenarios {
        plays.push_str(&format!(
            "<form method=post action=\"/scenario/{id}\"><button id=\"scenario-{id}\">{label}</button> <span class=muted>{what}</span></form>",
            id = esc(s.id),
            label = esc(s.label),
            what = esc(&s.what)
        ));
    }
    if scenarios.is_empty() {
        plays.push_str(
            "<p class=muted>No scenarios for this exercise: send requests from a terminal.</p>",
        );
    }
    PAGE.replace("{exercise}", &esc(exercise))
        .replace("{faults}", &faults)
        .replace("{scenarios}", &plays)
}

const PAGE: &str = r#"<!doctype html>
<html lang=en>
<head>
<meta charset=utf-8>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self'; form-action 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>{exercise}: live session</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #f6f6f4; }
header { background: #23262b; color: #fff; padding: 10px 18px; display: flex; gap: 24px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
header code { color: #9fe3b0; }
#conn { margin-left: auto; font-size: 12px; color: #bbb; }
main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(420px, 1.4fr); gap: 14px; padding: 14px 18px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 14px; }
h2 { font-size: 15px; margin: 0 0 8px; }
h3 { font-size: 13px; margin: 6px 0 4px; text-transform: uppercase; letter-spacing: .04em; color: #555; }
form { display: inline-block; margin: 2px 4px 2px 0; }
#scenarios form { display: block; margin: 6px 0; }
button { font: inherit; padding: 3px 10px; border: 1px solid #999; border-radius: 4px; background: #fafafa; cursor: pointer; }
button:hover { background: #eef; }
button:disabled { opacity: .5; }
.muted { color: #777; font-size: 12px; }
#in-force li { margin: 2px 0; }
#in-force li.hurt b { color: #b3261e; }
#status { min-height: 1.4em; font-size: 12px; color: #333; overflow-wrap: anywhere; }
#feed { font: 12px/1.5 ui-monospace, monospace; max-height: 420px; overflow-y: auto; }
#feed div { border-bottom: 1px solid #f0f0f0; white-space: pre-wrap; word-break: break-word; }
#feed .at { color: #888; display: inline-block; width: 6em; }
#feed .kind { display: inline-block; width: 6.5em; color: #666; }
#feed .s2 { color: #196c2e; } #feed .s4 { color: #9a5b00; } #feed .s5 { color: #b3261e; }
#feed .scenario, #feed .service { background: #f3f0ff; } #feed .fault { background: #fff6e0; }
table { border-collapse: collapse; margin: 4px 0 10px; font: 12px ui-monospace, monospace; }
td, th { border: 1px solid #e3e3e3; padding: 2px 6px; text-align: left; }
th { background: #f4f4f4; }
tr.alarm td { background: #fde7e7; color: #8c1d18; font-weight: 600; }
#timeline table { table-layout: fixed; width: 100%; }
#timeline td:first-child, #timeline th:first-child { width: 4.5em; text-align: right; color: #888; }
#timeline td { word-break: break-word; }
.note { font-size: 12px; color: #666; margin-top: -6px; }
#truth { overflow-x: auto; }
</style>
</head>
<body>
<header><h1>{exercise}: live session</h1><span>service at <code id=service>…</code></span><span id=conn>connecting…</span></header>
<main>
<div>
<section id=controls>
<h2>Faults</h2>
<ul id=in-force></ul>
{faults}
<h2 style="margin-top:12px">Scenarios</h2>
<div id=scenarios>{scenarios}</div>
<div id=status></div>
</section>
<section style="margin-top:14px">
<h2>Requests and events <span class=muted>(newest first; each request line as the service's own accounting reports it)</span></h2>
<div id=feed></div>
</section>
</div>
<section id=truth-panel>
<h2>Ground truth <span class=muted>(the fakes' records and the service's database, read by the harness)</span></h2>
<div id=truth></div>
<h2 style="margin-top:14px">Timeline of the last scenario <span class=muted>(one clock; a lane per actor)</span></h2>
<div id=timeline><p class=muted>Play a scenario to see it here.</p></div>
</section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
async function send(form, button) {
  button.disabled = true;
  $("status").textContent = button.textContent + "…";
  try {
    const r = await fetch(form.action, { method: "POST" });
    const t = await r.text();
    $("status").textContent = (r.ok ? "" : "refused: ") + t.slice(0, 300);
  } catch (e) {
    $("status").textContent = "the session did not answer: " + e;
  } finally {
    button.disabled = false;
    refresh();
  }
}
document.querySelectorAll("form").forEach((form) => {
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    send(form, form.querySelector("button"));
  });
});
function drawFaults(list) {
  $("in-force").replaceChildren(...list.map((f) => {
    const li = el("li");
    li.id = "in-force-" + f.target;
    li.dataset.mode = f.mode;
    if (f.mode !== "healthy") li.className = "hurt";
    li.append(el("b", f.target + ": " + f.mode), " — " + f.what);
    if (f.since !== null) li.append(el("span", " (set at +" + f.since.toFixed(1) + " s)", "muted"));
    return li;
  }));
}
function drawFeed(events) {
  $("feed").replaceChildren(...events.slice().reverse().map((e) => {
    const row = el("div", undefined, e.kind + (e.status ? " s" + String(e.status)[0] : ""));
    row.append(el("span", "+" + e.at.toFixed(1) + " s", "at"), el("span", e.kind, "kind"), e.text);
    return row;
  }));
}
function drawTruth(tables) {
  $("truth").replaceChildren(...tables.flatMap((t) => {
    const parts = [el("h3", t.title)];
    if (t.columns.length) {
      const table = el("table");
      const head = el("tr");
      t.columns.forEach((c) => head.append(el("th", c)));
      table.append(head);
      t.rows.forEach((r, i) => {
        const tr = el("tr", undefined, t.alarms.includes(i) ? "alarm" : "");
        r.forEach((c) => tr.append(el("td", c)));
        table.append(tr);
      });
      parts.push(table);
    }
    if (t.note) parts.push(el("p", t.note, "note"));
    return parts;
  }));
}
const LANES = ["client", "service", "database", "provider", "risk", "pricing", "shipping", "judge"];
function drawTimeline(t) {
  if (!t) return;
  const lanes = LANES.filter((l) => t.moments.some((m) => m.actor === l));
  t.moments.forEach((m) => { if (!lanes.includes(m.actor)) lanes.push(m.actor); });
  const table = el("table");
  const head = el("tr");
  head.append(el("th", "ms"));
  lanes.forEach((l) => head.append(el("th", l)));
  table.append(head);
  t.moments.forEach((m) => {
    const tr = el("tr", undefined, m.violation ? "alarm" : "");
    tr.append(el("td", String(m.at_ms)));
    lanes.forEach((l) => tr.append(el("td", l === m.actor ? m.what : "")));
    table.append(tr);
  });
  const parts = [table];
  if (t.left_out) parts.push(el("p", t.left_out + " more moment(s) left out", "note"));
  $("timeline").replaceChildren(...parts);
}
async function refresh() {
  try {
    const s = await (await fetch("/state")).json();
    $("service").textContent = s.service;
    drawFaults(s.in_force);
    drawFeed(s.feed);
    drawTruth(s.truth);
    drawTimeline(s.last_timeline);
    $("conn").textContent = "live · updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("conn").textContent = "the session is not answering";
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_what_it_is_given_and_has_a_button_per_fault_and_scenario() {
        let modes: &[Mode] = &[
            ("provider", "healthy", "answers <normally>"),
            ("provider", "hang", "hangs"),
            ("db", "lock", "locked"),
        ];
        let scenarios = [Offered {
            id: "twice-at-once",
            label: "send it twice at once",
            what: "POST /x <twice>".to_owned(),
        }];
        let page = render("charge", modes, &scenarios);
        assert!(page.contains("id=\"fault-provider-hang\""));
        assert!(page.contains("id=\"fault-db-lock\""));
        assert!(page.contains("id=\"scenario-twice-at-once\""));
        assert!(page.contains("answers &lt;normally&gt;"));
        assert!(page.contains("POST /x &lt;twice&gt;"));
        assert!(!page.contains("{faults}") && !page.contains("{scenarios}"));
        assert_eq!(page.matches("<h3>provider</h3>").count(), 1);
    }
}
