/* The street console's cases: the open cases the supervisor may see, one case's evidence pictures and
   audit trail, and its actions (the confirm / false-alarm verdicts feed retraining, so they come first).
   The server decides what each state allows (allowed_actions) and why it refuses; this panel shows it. */
"use strict";

const CASE_STATES = {
  new: "New", confirmed: "Confirmed", notified: "Notified", rectifying: "Rectifying",
  reinspection: "Re-inspection", escalated: "Escalated", closed: "Closed", false_alarm: "False alarm",
};
const CASE_ACTIONS = {
  confirm: "Confirm", false_alarm: "False alarm", notify: "Restaurant notified",
  start_rectification: "Set rectification deadline", request_reinspection: "Request re-inspection",
  close: "Close", escalate: "Escalate", assign: "Assign", comment: "Comment",
};
const CASE_VERDICTS = new Set(["confirm", "false_alarm"]);
const CASE_PAGE = 500; // open cases listed; the count says when there are more
const EVIDENCE_SHOWN = 6; // the latest pictures of a case; a burst of alerts can hold dozens
const PICTURES_KEPT = 60; // decoded evidence kept as blob URLs (immutable, so worth keeping a while)

MSCC.caseStateText = (state) => CASE_STATES[state] || String(state || "").replace(/_/g, " ");

/** Badges that keep stand-ins and unvalidated output from passing for validated model output. */
MSCC.trustBadges = function trustBadges({ validated, sources }) {
  return [
    validated === false ? MSCC.h("span", { class: "badge unvalidated", title: "from a model not yet validated on real kitchens: judge the picture yourself" }, "not validated") : null,
    (sources || []).includes("simulated") ? MSCC.h("span", { class: "badge simulated", title: "a demo stand-in: no model saw anything" }, "simulated") : null,
  ];
};

/** An API validation error (a JSON list from FastAPI) as one readable line; other messages unchanged. */
function readableError(message) {
  try {
    const items = JSON.parse(message);
    if (Array.isArray(items)) {
      return items.map((i) => `${(i.loc || []).filter((p) => p !== "body").join(".")}: ${i.msg}`).join("; ");
    }
  } catch (_) { /* plain text */ }
  return message;
}

/**
 * Evidence pictures need the bearer token, which an <img src> cannot send: fetch them with it and show
 * them through blob URLs. Pictures are immutable (named by content hash), so a few dozen are kept.
 */
class EvidencePictures {
  constructor() {
    this.urls = new Map(); // API path -> Promise of a blob URL
  }

  load(path) {
    if (!this.urls.has(path)) {
      this.urls.set(path, this.fetch(path));
      while (this.urls.size > PICTURES_KEPT) {
        const [oldest, url] = this.urls.entries().next().value;
        this.urls.delete(oldest);
        url.then((u) => URL.revokeObjectURL(u), () => {});
      }
    }
    return this.urls.get(path);
  }

  async fetch(path) {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${MSCC.token()}` } });
    if (!response.ok) {
      this.urls.delete(path); // a later look may find it (an evidence file still being written)
      throw new Error(response.status === 404 ? "picture not found" : `${response.status} ${response.statusText}`);
    }
    return URL.createObjectURL(await response.blob());
  }

  /** Point `img` at `path`; on failure put the reason in `caption`. */
  show(img, path, caption) {
    img.dataset.path = path;
    this.load(path).then((url) => {
      if (img.dataset.path === path) img.src = url;
    }, (err) => {
      if (img.dataset.path !== path) return;
      img.removeAttribute("src");
      caption.replaceChildren(`Picture unavailable: ${err.message}`);
    });
  }
}

MSCC.CasesPanel = class CasesPanel {
  /** names: MSCC.Names; inStreet(item): whether the console's street selection shows it; inspectors(): the list. */
  constructor({ names, inStreet, inspectors }) {
    this.names = names;
    this.inStreet = inStreet;
    this.inspectors = inspectors;
    this.cases = [];
    this.total = 0;
    this.selected = null; // the selected case's id
    this.detail = null; // its last GET /api/cases/{id}
    this.drafts = new Map(); // case id -> {note, deadline, inspector}: what was typed survives re-renders and failures
    this.pictures = new EvidencePictures();
    this.listSeq = 0;
    this.detailSeq = 0;
    this.refreshSoon = MSCC.coalesce(() => this.refresh(), 400);
    this.reloadSoon = MSCC.coalesce(() => this.loadDetail(), 400);
    this.body = MSCC.$("#cases tbody");
    this.pane = MSCC.$("#case-detail");
  }

  async refresh() {
    const seq = ++this.listSeq;
    let result;
    try {
      result = await MSCC.request(`/api/cases?state=open&limit=${CASE_PAGE}`);
    } catch (err) {
      if (err.status !== 401) MSCC.notice(`Cases could not be loaded: ${err.message}`);
      return;
    }
    if (seq !== this.listSeq) return; // an answer to an older request
    this.cases = result.data;
    this.total = Number(result.headers.get("X-Total-Count") || result.data.length);
    this.render();
  }

  onEvent(event) {
    if (!["alert.created", "alert.updated", "case.updated"].includes(event.type)) return;
    this.refreshSoon();
    if (this.selected !== null && event.case_id !== undefined && String(event.case_id) === String(this.selected)) this.reloadSoon();
  }

  /* ------------------------------------------------------------ list */

  render() {
    const shown = this.cases.filter(this.inStreet).sort((a, b) => Date.parse(b.opened_at) - Date.parse(a.opened_at) || b.id - a.id);
    let count = `${shown.length} open`;
    if (this.cases.length < this.total) count += ` · newest ${this.cases.length} of ${this.total} loaded`;
    MSCC.$("#case-count").textContent = count;
    if (!shown.length) {
      this.body.replaceChildren(MSCC.h("tr", { class: "empty" }, MSCC.h("td", { colspan: 6, class: "muted" }, "No open cases.")));
      return;
    }
    // Rows are rebuilt on every change; keep the keyboard focus on the case it was on.
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#cases tr[data-case]");
    const focusedCase = focused ? focused.dataset.case : null;
    this.body.replaceChildren(...shown.map((c) => MSCC.h("tr", {
      "data-case": c.id, "data-state": c.state, tabindex: 0, class: String(c.id) === String(this.selected) ? "selected" : null,
      onclick: () => this.select(c.id),
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); this.select(c.id); } },
    },
    MSCC.h("td", {}, MSCC.h("span", { class: "case-violation" }, MSCC.violationText(c.violation)), ...MSCC.trustBadges(c)),
    MSCC.h("td", {}, this.names.restaurant(c.restaurant_id)),
    MSCC.h("td", { class: "mono" }, c.camera_id || "–"),
    MSCC.h("td", {}, MSCC.h("span", { class: `case-state ${c.state}` }, MSCC.caseStateText(c.state))),
    MSCC.h("td", { class: "num" }, c.alert_count),
    MSCC.h("td", { class: "num", "data-opened": c.opened_at, title: new Date(c.opened_at).toLocaleString() }, MSCC.ago(c.opened_at)))));
    if (focusedCase) {
      const row = this.body.querySelector(`tr[data-case="${CSS.escape(focusedCase)}"]`);
      if (row) row.focus();
    }
  }

  /** Ages go stale while nothing happens: update their text only (no rebuild, so focus and hover stay). */
  tick() {
    for (const cell of this.body.querySelectorAll("td[data-opened]")) cell.textContent = MSCC.ago(cell.dataset.opened);
  }

  select(id) {
    if (String(id) !== String(this.selected)) {
      this.selected = id;
      this.detail = null;
      this.pane.hidden = false;
      this.pane.replaceChildren(MSCC.h("p", { class: "muted" }, "Loading the case…"));
    }
    for (const row of this.body.children) row.classList.toggle("selected", row.dataset.case === String(id));
    this.loadDetail();
  }

  /* ------------------------------------------------------------ one case */

  async loadDetail() {
    if (this.selected === null) return;
    const id = this.selected;
    const seq = ++this.detailSeq;
    let detail;
    try {
      detail = await MSCC.api(`/api/cases/${id}`);
    } catch (err) {
      if (err.status === 401 || seq !== this.detailSeq) return;
      this.pane.replaceChildren(MSCC.h("p", { class: "case-error", role: "alert" }, `Case ${id} could not be loaded: ${err.message}`));
      return;
    }
    if (seq !== this.detailSeq || String(id) !== String(this.selected)) return;
    this.showDetail(detail);
  }

  /** Draw the case; the action form is kept while the same case is shown, so typing is never interrupted. */
  showDetail(detail) {
    const sameCase = this.detail && this.detail.id === detail.id && this.pane.querySelector(".case-actions");
    this.detail = detail;
    if (!sameCase) this.build(detail);
    this.pane.dataset.case = detail.id;
    this.pane.dataset.state = detail.state;
    this.header.replaceChildren(...this.headerParts(detail));
    const pictureKey = detail.alerts.map((a) => a.id).join(",");
    if (this.evidence.dataset.alerts !== pictureKey) {
      this.evidence.dataset.alerts = pictureKey;
      this.evidence.replaceChildren(...this.pictureFigures(detail));
    }
    this.audit.replaceChildren(...detail.audit.map((row) => this.auditLine(row)));
    this.updateActions(detail);
  }

  build(detail) {
    // Blob URLs of pictures the new case does not show can go; the new case's are fetched or kept.
    const keep = new Set(detail.alerts.flatMap((a) => [a.evidence_url, a.raw_evidence_url]).filter(Boolean));
    for (const [path, url] of [...this.pictures.urls]) {
      if (!keep.has(path)) {
        this.pictures.urls.delete(path);
        url.then((u) => URL.revokeObjectURL(u), () => {});
      }
    }
    this.header = MSCC.h("div", { class: "case-head" });
    this.evidence = MSCC.h("div", { class: "case-evidence" });
    this.audit = MSCC.h("ol", { class: "case-audit" });
    this.pane.replaceChildren(this.header, this.evidence, this.actionForm(detail),
      MSCC.h("h3", {}, "Audit trail"), this.audit);
  }

  headerParts(c) {
    const inspector = c.inspector_id ? (this.inspectors().find((i) => i.id === c.inspector_id) || { name: c.inspector_id }).name : null;
    const facts = [
      this.names.restaurant(c.restaurant_id),
      c.camera_id ? `camera ${c.camera_id}` : null,
      `opened ${MSCC.ago(c.opened_at)}`,
      `${c.alert_count} alert${c.alert_count === 1 ? "" : "s"}`,
      c.sources.length ? `source: ${c.sources.join(", ")}` : null,
      c.deadline ? `deadline ${new Date(c.deadline).toLocaleString()}` : null,
      inspector ? `assigned to ${inspector}` : null,
      c.missed_deadlines ? `${c.missed_deadlines} missed deadline${c.missed_deadlines === 1 ? "" : "s"}` : null,
    ].filter(Boolean);
    return [
      MSCC.h("h3", {}, `Case ${c.id} · ${MSCC.violationText(c.violation)} `,
        MSCC.h("span", { class: `case-state ${c.state}` }, MSCC.caseStateText(c.state)),
        c.escalated_from ? MSCC.h("span", { class: "muted" }, ` (from ${MSCC.caseStateText(c.escalated_from)})`) : null,
        ...MSCC.trustBadges(c)),
      MSCC.h("p", { class: "muted" }, facts.join(" · ")),
    ];
  }

  pictureFigures(c) {
    const withPictures = c.alerts.filter((a) => a.evidence_url).reverse().slice(0, EVIDENCE_SHOWN);
    if (!withPictures.length) return [MSCC.h("p", { class: "muted" }, "No evidence picture with this case's alerts.")];
    return withPictures.map((alert) => {
      const img = MSCC.h("img", { alt: `${MSCC.violationText(alert.violation)} evidence, alert ${alert.id}`, "data-alert": alert.id });
      const status = MSCC.h("span", { class: "picture-status" });
      const score = typeof alert.score === "number" ? ` · score ${alert.score.toFixed(2)}` : "";
      let raw = false;
      const toggle = alert.raw_evidence_url ? MSCC.h("button", { class: "btn small", type: "button", onclick: () => {
        raw = !raw;
        toggle.textContent = raw ? "With boxes" : "Without boxes";
        this.pictures.show(img, raw ? alert.raw_evidence_url : alert.evidence_url, status);
      } }, "Without boxes") : null;
      this.pictures.show(img, alert.evidence_url, status);
      return MSCC.h("figure", { class: "evidence", "data-alert": alert.id }, img,
        MSCC.h("figcaption", {}, `${MSCC.clock(new Date(alert.ts))} · ${alert.source}${score} `,
          ...MSCC.trustBadges({ validated: alert.validated, sources: [alert.source] }), toggle, status));
    });
  }

  auditLine(row) {
    const details = [];
    if (row.details && row.details.deadline) details.push(`deadline ${new Date(row.details.deadline).toLocaleString()}`);
    if (row.details && row.details.inspector_id) details.push(`inspector ${row.details.inspector_id}`);
    const move = row.from_state && row.from_state !== row.to_state
      ? `${MSCC.caseStateText(row.from_state)} → ${MSCC.caseStateText(row.to_state)}` : MSCC.caseStateText(row.to_state);
    return MSCC.h("li", { "data-action": row.action },
      MSCC.h("span", { class: "time", title: new Date(row.ts).toLocaleString() }, MSCC.clock(new Date(row.ts))),
      MSCC.h("span", {}, MSCC.h("b", {}, row.actor), ` ${(CASE_ACTIONS[row.action] || row.action).toLowerCase()} · ${move}`,
        details.length ? ` · ${details.join(" · ")}` : "",
        row.note ? MSCC.h("q", { class: "note" }, row.note) : null));
  }

  /* ------------------------------------------------------------ actions */

  actionForm(c) {
    const draft = this.drafts.get(c.id) || { note: "", deadline: "", inspector: "" };
    this.drafts.set(c.id, draft);
    const note = MSCC.h("textarea", { name: "note", rows: 2, maxlength: 2000, placeholder: "Note (why; kept in the audit trail)", "aria-label": "Note" });
    note.value = draft.note;
    note.addEventListener("input", () => { draft.note = note.value; });
    const deadline = MSCC.h("input", { type: "datetime-local", name: "deadline" });
    deadline.value = draft.deadline;
    deadline.addEventListener("input", () => { draft.deadline = deadline.value; });
    const inspector = MSCC.h("select", { name: "inspector" });
    inspector.addEventListener("change", () => { draft.inspector = inspector.value; });
    this.form = {
      note, deadline, inspector,
      deadlineField: MSCC.h("label", { class: "field" }, "Rectification deadline ", deadline),
      inspectorField: MSCC.h("label", { class: "field" }, "Inspector ", inspector),
      buttons: MSCC.h("div", { class: "case-buttons" }),
      error: MSCC.h("p", { class: "case-error", role: "alert" }),
      done: MSCC.h("p", { class: "case-done", role: "status" }),
      busy: false,
    };
    const f = this.form;
    return MSCC.h("form", { class: "case-actions", onsubmit: (e) => e.preventDefault() },
      note, MSCC.h("div", { class: "case-fields" }, f.deadlineField, f.inspectorField), f.buttons, f.error, f.done);
  }

  updateActions(c) {
    const f = this.form;
    const allowed = c.allowed_actions || [];
    f.deadlineField.hidden = !allowed.includes("start_rectification");
    f.inspectorField.hidden = !allowed.includes("assign");
    if (!f.inspectorField.hidden) {
      const draft = this.drafts.get(c.id);
      const team = this.inspectors().filter((i) => i.street_id === c.street_id);
      const chosen = draft.inspector || c.inspector_id || "";
      f.inspector.replaceChildren(MSCC.h("option", { value: "" }, "choose…"),
        ...team.map((i) => MSCC.h("option", { value: i.id }, `${i.name}${i.online ? "" : " (offline)"}`)));
      f.inspector.value = team.some((i) => i.id === chosen) ? chosen : "";
    }
    f.note.disabled = !allowed.length;
    f.buttons.replaceChildren(...allowed.map((action) => MSCC.h("button", {
      type: "button", "data-action": action, disabled: f.busy,
      class: `btn ${CASE_VERDICTS.has(action) ? `verdict ${action}` : ""}`,
      onclick: () => this.act(c.id, action),
    }, CASE_ACTIONS[action] || action.replace(/_/g, " "))));
    if (!allowed.length) f.done.textContent = f.done.textContent || `This case is ${MSCC.caseStateText(c.state).toLowerCase()}: nothing more to do.`;
  }

  async act(caseId, action) {
    const f = this.form;
    const draft = this.drafts.get(caseId);
    const body = { action };
    const note = f.note.value.trim();
    if (note) body.note = note;
    f.error.textContent = "";
    f.done.textContent = "";
    if (action === "start_rectification") {
      const when = f.deadline.value ? new Date(f.deadline.value) : null;
      if (!when || Number.isNaN(when.getTime())) {
        f.error.textContent = "Choose the rectification deadline first.";
        return;
      }
      body.deadline = when.toISOString();
    }
    if (action === "assign") {
      if (!f.inspector.value) {
        f.error.textContent = "Choose the inspector to assign first.";
        return;
      }
      body.inspector_id = f.inspector.value;
    }
    if (action === "comment" && !note) {
      f.error.textContent = "Write the comment in the note first.";
      return;
    }
    this.setBusy(true);
    try {
      const updated = await MSCC.api(`/api/cases/${caseId}/actions`, { method: "POST", body });
      // Done: the typed note is in the audit trail now, so the form starts empty for the next step.
      this.drafts.set(caseId, { note: "", deadline: "", inspector: "" });
      if (this.form === f) {
        f.note.value = "";
        f.deadline.value = "";
        f.done.textContent = `${CASE_ACTIONS[action] || action} · recorded. The case is now: ${MSCC.caseStateText(updated.state)}.`;
      }
      this.refresh();
      if (String(this.selected) === String(caseId)) this.loadDetail();
    } catch (err) {
      if (err.status === 401) return;
      // The note stays as typed (it is in the draft and the textarea); the server's reason is shown.
      if (this.form === f) f.error.textContent = `Not done (${err.status || "no answer"}): ${readableError(err.message)}`;
      if (draft) draft.note = f.note.value;
      if (err.status === 409 && String(this.selected) === String(caseId)) this.loadDetail(); // show what the case is now
    } finally {
      this.setBusy(false);
    }
  }

  setBusy(busy) {
    this.form.busy = busy;
    for (const button of this.form.buttons.querySelectorAll("button")) button.disabled = busy;
  }
};
