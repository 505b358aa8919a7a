/* The inspector's field tasks on the phone: accept or decline a pushed task, say "I'm here" when GPS
   fails indoors, take photos, fill the checklist and submit the findings. Everything goes through the
   task API; the server says what each state allows (allowed_actions) and why it refuses. */
"use strict";

const TASK_STATES = { assigned: "New", accepted: "Accepted", on_site: "On site" };
const VERDICTS = [["ok", "OK"], ["fail", "Fail"], ["na", "n/a"]];

MSCC.FieldTasks = class FieldTasks {
  constructor(list, names, { onNew } = {}) {
    this.list = list;
    this.names = names;
    this.onNew = onNew || (() => {});
    this.tasks = [];
    this.checklist = [];
    this.photos = new Map(); // task id -> photos uploaded so far
    this.refreshSoon = MSCC.coalesce(() => this.refresh(), 300);
  }

  async start() {
    this.checklist = await MSCC.api("/api/tasks/checklist");
    await this.refresh();
  }

  async refresh() {
    try {
      this.tasks = await MSCC.api("/api/tasks?state=open");
      await Promise.all(this.tasks.filter((t) => t.state !== "assigned").map(async (t) => {
        this.photos.set(t.id, (await MSCC.api(`/api/tasks/${t.id}`)).photos);
      }));
      this.render();
    } catch (err) {
      if (err.status !== 401) MSCC.notice(`Tasks could not be loaded: ${err.message}`);
    }
  }

  onEvent(event) {
    if (event.type !== "task.updated") return;
    if (event.action === "create") this.onNew(event);
    this.refreshSoon();
  }

  render() {
    MSCC.$("#task-count").textContent = this.tasks.length ? `${this.tasks.length} open` : "";
    if (!this.tasks.length) {
      this.list.replaceChildren(MSCC.h("li", { class: "muted" }, "No open tasks. New ones are pushed here."));
      return;
    }
    // Keep what the inspector is typing: a task's form is rebuilt only when its state changed.
    const cards = this.tasks.map((task) => {
      const old = this.list.querySelector(`li[data-task="${task.id}"]`);
      if (old && old.dataset.version === String(task.version) && old.dataset.photos === String((this.photos.get(task.id) || []).length)) return old;
      return this.card(task);
    });
    this.list.replaceChildren(...cards);
  }

  card(task) {
    const restaurant = this.names.restaurants.get(task.restaurant_id);
    const photos = this.photos.get(task.id) || [];
    const error = MSCC.h("p", { class: "task-error", role: "alert" });
    const act = (action) => this.run(error, () => MSCC.api(`/api/tasks/${task.id}/actions`, { method: "POST", body: { action } }));
    const buttons = [];
    if (task.allowed_actions.includes("accept")) buttons.push(MSCC.h("button", { class: "btn primary", type: "button", "data-action": "accept", onclick: () => act("accept") }, "Accept"));
    if (task.allowed_actions.includes("decline")) buttons.push(MSCC.h("button", { class: "btn", type: "button", "data-action": "decline", onclick: () => act("decline") }, "Decline"));
    if (task.allowed_actions.includes("arrive")) buttons.push(MSCC.h("button", { class: "btn", type: "button", "data-action": "arrive", onclick: () => act("arrive") }, "I'm here"));
    const arrival = task.arrived_at
      ? `Arrived ${MSCC.ago(task.arrived_at)} (${task.arrival === "geofence" ? "GPS visit recorded" : "by hand, no GPS visit"})`
      : null;
    return MSCC.h("li", { class: "task", "data-task": task.id, "data-state": task.state, "data-version": task.version, "data-photos": photos.length },
      MSCC.h("div", { class: "task-head" },
        MSCC.h("b", {}, restaurant ? restaurant.name : task.restaurant_id),
        MSCC.h("span", { class: `task-state ${task.state}` }, TASK_STATES[task.state] || task.state)),
      MSCC.h("small", { class: "muted" }, [restaurant && restaurant.address, task.case_id ? `case ${task.case_id}` : "routine visit",
        task.due_at ? `due ${new Date(task.due_at).toLocaleString()}` : null].filter(Boolean).join(" · ")),
      task.instructions ? MSCC.h("p", { class: "instructions" }, task.instructions) : null,
      arrival ? MSCC.h("p", { class: "arrival muted" }, arrival) : null,
      buttons.length ? MSCC.h("div", { class: "task-buttons" }, ...buttons) : null,
      task.allowed_actions.includes("submit") ? this.findingsForm(task, photos, error) : null,
      error);
  }

  findingsForm(task, photos, error) {
    const form = MSCC.h("form", { class: "findings", "data-task": task.id });
    const rows = this.checklist.map((item) => MSCC.h("div", { class: "check" },
      MSCC.h("span", {}, item.label),
      MSCC.h("select", { name: `check-${item.key}`, "aria-label": item.label },
        MSCC.h("option", { value: "" }, "–"),
        ...VERDICTS.map(([value, text]) => MSCC.h("option", { value }, text)))));
    const deadline = MSCC.h("label", { class: "deadline", hidden: true }, "New deadline (violation on a re-inspection)",
      MSCC.h("input", { type: "datetime-local", name: "deadline" }));
    const outcome = MSCC.h("fieldset", { class: "outcome" }, MSCC.h("legend", {}, "Outcome"),
      ...[["compliant", "Compliant"], ["violation", "Violation found"]].map(([value, text]) =>
        MSCC.h("label", {}, MSCC.h("input", { type: "radio", name: "outcome", value, required: true,
          onchange: () => { deadline.hidden = value !== "violation" || !task.case_id; } }), text)));
    const file = MSCC.h("input", { type: "file", name: "photo", accept: "image/jpeg,image/png,image/webp", capture: "environment" });
    file.addEventListener("change", () => this.upload(task, file, error));
    MSCC.append(form, [
      MSCC.h("label", { class: "photo" }, `Photos (${photos.length})`, file),
      photos.length ? MSCC.h("div", { class: "thumbs" }, ...photos.map((p) => MSCC.h("span", { class: "thumb" }, p.caption || `${Math.round(p.bytes / 1024)} kB`))) : null,
      MSCC.h("div", { class: "checklist" }, ...rows),
      MSCC.h("label", {}, "Findings", MSCC.h("textarea", { name: "text", rows: 3, maxlength: 4000 })),
      outcome, deadline,
      MSCC.h("button", { class: "btn primary", type: "submit" }, "Submit findings")]);
    form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(task, form, error); });
    return form;
  }

  async upload(task, input, error) {
    const file = input.files && input.files[0];
    if (!file) return;
    error.textContent = "";
    try {
      const response = await fetch(`/api/tasks/${task.id}/photos?caption=${encodeURIComponent(file.name.slice(0, 200))}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${MSCC.token()}`, "Content-Type": file.type || "application/octet-stream" },
        body: file,
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
      this.photos.set(task.id, [...(this.photos.get(task.id) || []).filter((p) => p.id !== body.id), body]);
      // Only the photo count changes: keep the rest of the form as typed.
      const label = input.closest("label");
      if (label) label.firstChild.textContent = `Photos (${this.photos.get(task.id).length})`;
      input.value = "";
    } catch (err) {
      error.textContent = `Photo not added: ${err.message}`;
    }
  }

  async submit(task, form, error) {
    const data = new FormData(form);
    const checklist = {};
    for (const item of this.checklist) {
      const verdict = data.get(`check-${item.key}`);
      if (verdict) checklist[item.key] = verdict;
    }
    const body = { outcome: data.get("outcome"), checklist, text: data.get("text") || null };
    if (data.get("deadline")) body.deadline = new Date(data.get("deadline")).toISOString();
    await this.run(error, () => MSCC.api(`/api/tasks/${task.id}/findings`, { method: "POST", body }));
  }

  async run(error, call) {
    error.textContent = "";
    try {
      await call();
      await this.refresh();
    } catch (err) {
      if (err.status !== 401) error.textContent = err.message;
    }
  }
};
