/* mscc pages: the human-readable text of live events, the event feed and camera-state summaries. */
"use strict";

/* ---------------------------------------------------------------- event text */

const VIOLATIONS = {
  no_hat: "No chef hat",
  no_mask: "No mask",
  mask_incorrect: "Mask worn incorrectly",
  rodent: "Rodent seen",
  camera_offline: "Camera offline",
  camera_tampered: "Camera tampered with",
  lab_failed: "Lab test failed",
};

MSCC.violationText = (code) => VIOLATIONS[code] || String(code || "alert").replace(/_/g, " ");

/**
 * Names for the ids events carry. Pages fill it from the lists they load, so a feed line can say
 * "Big Banyan Roast Goose" instead of "r001".
 */
MSCC.Names = class Names {
  constructor() {
    this.streets = new Map();
    this.restaurants = new Map();
    this.people = new Map(); // device id -> inspector
  }
  addStreets(list) { for (const s of list) this.streets.set(s.id, s); }
  addRestaurants(list) { for (const r of list) this.restaurants.set(r.id, r); }
  addInspectors(list) { for (const i of list) this.people.set(i.device_id, i); }
  street(id) { const s = this.streets.get(id); return s ? `${s.name} ${s.name_zh || ""}`.trim() : id; }
  restaurant(id) { const r = this.restaurants.get(id); return r ? r.name : id; }
  device(id) { const p = this.people.get(id); return p ? `${p.name} (${id})` : id; }
};

/** {cls, tag, text, marks?} for one event (marks: badges after the text, {cls, text}); unknown types are
    shown with their ids, never dropped. */
MSCC.describe = function describe(event, names) {
  const where = [];
  if (event.restaurant_id) where.push(names.restaurant(event.restaurant_id));
  if (event.street_id) where.push(names.street(event.street_id));
  const place = where.length ? ` · ${where.join(" · ")}` : "";
  switch (event.type) {
    case "position": {
      const speed = typeof event.speed_kmh === "number" ? ` · ${event.speed_kmh.toFixed(0)} km/h` : "";
      const at = `${Number(event.lat).toFixed(5)}, ${Number(event.lon).toFixed(5)}`;
      const street = event.street_id ? ` · ${names.street(event.street_id)}` : "";
      return { cls: "gps", tag: "GPS", text: `${names.device(event.device_id)}${street}${speed} · ${at}` };
    }
    case "alert.created": {
      const score = typeof event.score === "number" ? ` · score ${event.score.toFixed(2)}` : "";
      const camera = event.camera_id ? ` · ${event.camera_id}` : "";
      // Unvalidated model output and the demo's stand-ins must not pass for validated detections.
      const marks = [];
      if (event.validated === false) marks.push({ cls: "unvalidated", text: "not validated" });
      if (event.source === "simulated") marks.push({ cls: "simulated", text: "simulated" });
      return { cls: "alert", tag: "ALERT", text: `${MSCC.violationText(event.violation)}${place}${camera}${score}`, marks };
    }
    case "alert.updated":
      return { cls: "alert-update", tag: "ALERT", text: `Alert ${event.alert_id || ""} ${event.status || "updated"}${place}` };
    case "case.updated":
      return { cls: "case", tag: "CASE", text: `Case ${event.case_id} → ${String(event.state).replace(/_/g, " ")}${place}` };
    case "task.updated":
      return { cls: "case", tag: "TASK", text: `Task ${event.task_id} → ${String(event.state).replace(/_/g, " ")}${place}` };
    case "camera.status": {
      const why = event.message ? ` (${event.message})` : "";
      return { cls: "camera", tag: "CAMERA", text: `${event.camera_id} ${event.state}${why}${place}` };
    }
    case "lab_result":
      return {
        cls: "lab",
        tag: "LAB",
        text: `${event.lab_id}: sample ${event.passed ? "passed" : "FAILED"}${place}`,
      };
    default: {
      const ids = ["camera_id", "restaurant_id", "street_id", "alert_id", "inspector_id"]
        .filter((key) => event[key]).map((key) => `${key.replace(/_id$/, "")} ${event[key]}`);
      return { cls: "other", tag: String(event.type || "event").toUpperCase().slice(0, 10), text: `${event.type}${ids.length ? " · " + ids.join(", ") : ""}` };
    }
  }
};

/**
 * A newest-first list of at most `max` events. Positions arrive every few seconds from every device,
 * so each device keeps one line (its latest) instead of pushing alerts off the screen.
 */
MSCC.EventFeed = class EventFeed {
  constructor(list, names, { max = 50, accept = () => true, empty = "Waiting for events…" } = {}) {
    this.list = list;
    this.names = names;
    this.max = max;
    this.accept = accept;
    this.list.replaceChildren(MSCC.h("li", { class: "empty" }, empty));
  }

  add(event) {
    if (!this.accept(event)) return;
    const { cls, tag, text, marks = [] } = MSCC.describe(event, this.names);
    const empty = MSCC.$(".empty", this.list);
    if (empty) empty.remove();
    if (event.type === "position") {
      const previous = this.list.querySelector(`li[data-device="${CSS.escape(event.device_id)}"]`);
      if (previous) previous.remove();
    }
    const time = event.ts ? new Date(event.ts) : new Date();
    const line = MSCC.h("li", { class: `${cls} fresh`, "data-type": event.type, "data-device": event.device_id },
      MSCC.h("span", { class: "time" }, MSCC.clock(time)),
      MSCC.h("span", { class: "tag" }, tag),
      MSCC.h("span", { class: "text" }, text,
        ...marks.map((m) => MSCC.h("span", { class: `badge ${m.cls}` }, m.text))));
    this.list.prepend(line);
    while (this.list.children.length > this.max) this.list.lastElementChild.remove();
  }
};

/** Count cameras per street and state: {streetId: {online, degraded, offline, unknown}}. */
MSCC.cameraCounts = function cameraCounts(cameras) {
  const counts = {};
  for (const camera of cameras) {
    const key = camera.street_id || "";
    counts[key] = counts[key] || { online: 0, degraded: 0, offline: 0, unknown: 0 };
    const state = camera.state in counts[key] ? camera.state : "unknown";
    counts[key][state] += 1;
  }
  return counts;
};

/** Pills "● 12 online  ● 3 offline ..." for one camera count; degraded only when there is any. */
MSCC.cameraPills = function cameraPills(count) {
  const c = count || { online: 0, degraded: 0, offline: 0, unknown: 0 };
  const pill = (state) => MSCC.h("span", { class: "pill", "data-state": state },
    MSCC.h("span", { class: `dot ${state}` }), MSCC.h("b", {}, c[state]), state);
  return MSCC.h("div", { class: "pills cams" },
    pill("online"), c.degraded ? pill("degraded") : null, pill("offline"), pill("unknown"));
};
