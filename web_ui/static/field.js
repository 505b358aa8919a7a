/* The inspector's phone page: my status, alerts with a banner, nearest restaurants, my street's team. */
"use strict";

const NEAREST = 5;
const FIELD_REFRESH_MS = 60000;

const field = {
  me: null,
  names: new MSCC.Names(),
  inspectors: [],
  restaurants: [],
  pendingAlerts: 0, // alerts that arrived while the banner was already up
  feed: null,
};

MSCC.boot({ start: startField });

async function startField(me) {
  field.me = me;
  const [streets, inspectors, restaurants] = await Promise.all([
    MSCC.api("/api/streets"),
    MSCC.api("/api/inspectors"),
    MSCC.api("/api/restaurants?limit=5000"),
  ]);
  field.names.addStreets(streets);
  field.names.addInspectors(inspectors);
  field.names.addRestaurants(restaurants);
  field.inspectors = inspectors;
  field.restaurants = restaurants;

  MSCC.$("#title").textContent = mine() ? mine().name : "Field";
  MSCC.$("#banner-ok").addEventListener("click", hideBanner);
  // Positions of everybody arrive every few seconds; on a phone the list is for alerts and case work.
  field.feed = new MSCC.EventFeed(MSCC.$("#feed"), field.names, {
    max: 30, accept: (e) => e.type !== "position", empty: "No alerts yet. New ones also pop up at the top.",
  });
  renderAll();
  field.tasks = new MSCC.FieldTasks(MSCC.$("#tasks"), field.names, { onNew: showTaskBanner });
  await field.tasks.start();
  MSCC.startLive({ onEvent, onReconnect: () => { refreshInspectors(); field.tasks.refresh(); } });
  setInterval(refreshInspectors, FIELD_REFRESH_MS);
  setInterval(renderAll, 15000); // keeps "2 min ago" honest
}

/** The logged-in inspector (null for an account that is not an inspector, e.g. an admin trying the page). */
function mine() {
  return field.inspectors.find((i) => i.id === field.me.inspector_id) || null;
}

/** Inspectors of my street; the whole visible list when the account has no street. */
function team() {
  const street = field.me.street_id || (mine() && mine().street_id);
  return field.inspectors.filter((i) => !street || i.street_id === street);
}

function renderAll() {
  renderStatus();
  renderNearest();
  renderTeam();
}

/* ---------------------------------------------------------------- my status */

function renderStatus() {
  const me = mine();
  const set = (id, text) => { MSCC.$(id).textContent = text; };
  if (!me) {
    MSCC.$("#my-dot").className = "dot";
    set("#my-state", "This account is not linked to an inspector");
    return;
  }
  const last = me.last;
  MSCC.$("#my-dot").className = `dot ${me.online ? "online" : "offline"}`;
  set("#my-state", me.online ? "Online · reporting position"
    : last ? "Offline · no position for 5 min" : "No position yet · start the tracker app");
  set("#my-seen", last ? MSCC.ago(last.ts) : "never");
  set("#my-street", field.names.street(me.street_id));
  set("#my-position", last ? `${last.lat.toFixed(5)}, ${last.lon.toFixed(5)}` : "–");
  set("#my-speed", last && typeof last.speed_kmh === "number" ? `${last.speed_kmh.toFixed(0)} km/h` : "–");
  set("#my-battery", last && typeof last.battery === "number" ? `${Math.round(last.battery)} %` : "–");
  set("#my-accuracy", last && typeof last.accuracy === "number" ? `± ${Math.round(last.accuracy)} m` : "–");
}

/* ---------------------------------------------------------------- nearest restaurants */

/** Great-circle distance in metres (haversine): exact enough for "which shop is closest". */
function distanceM(lat1, lon1, lat2, lon2) {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2
    + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * 6371000 * Math.asin(Math.sqrt(a));
}

function renderNearest() {
  const last = mine() && mine().last;
  const list = MSCC.$("#nearest");
  if (!last) {
    list.replaceChildren(MSCC.h("li", { class: "muted" }, "Shown once your phone reports a position."));
    return;
  }
  const nearest = field.restaurants
    .map((r) => ({ r, d: distanceM(last.lat, last.lon, r.lat, r.lon) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, NEAREST);
  list.replaceChildren(...nearest.map(({ r, d }) =>
    MSCC.h("li", { "data-id": r.id },
      MSCC.h("div", { class: "main" }, r.name, MSCC.h("small", {}, r.address)),
      MSCC.h("span", { class: "side" }, d < 1000 ? `${Math.round(d)} m` : `${(d / 1000).toFixed(1)} km`))));
}

/* ---------------------------------------------------------------- team */

function renderTeam() {
  const people = team().sort((a, b) => (b.online - a.online) || a.id.localeCompare(b.id));
  MSCC.$("#team-count").textContent = `${people.filter((i) => i.online).length} of ${people.length} online`;
  MSCC.$("#team").replaceChildren(...people.map((i) =>
    MSCC.h("li", { "data-inspector": i.id },
      MSCC.h("span", { class: `dot ${i.online ? "online" : "offline"}` }),
      MSCC.h("div", { class: `main${i.id === field.me.inspector_id ? " me" : ""}` },
        i.name, i.id === field.me.inspector_id ? " (me)" : "", MSCC.h("small", {}, i.device_id)),
      MSCC.h("span", { class: "side" }, MSCC.ago(i.last && i.last.ts)))));
}

/* ---------------------------------------------------------------- live */

const renderSoon = MSCC.coalesce(renderAll, 500);

function onEvent(event) {
  field.feed.add(event);
  if (event.type === "alert.created") showBanner(event);
  if (event.type === "task.updated") field.tasks.onEvent(event);
  if (event.type === "position") {
    const inspector = field.inspectors.find((i) => i.device_id === event.device_id);
    if (!inspector) return;
    inspector.online = true;
    inspector.last = {
      ...(inspector.last || {}), ts: event.ts, lat: event.lat, lon: event.lon,
      speed_kmh: typeof event.speed_kmh === "number" ? event.speed_kmh : inspector.last && inspector.last.speed_kmh,
    };
    renderSoon();
  }
}

/**
 * Alerts in my street are red; others (the server sends the whole district to inspectors) amber, so a
 * colleague's street does not look like my emergency. The banner stays until OK is pressed.
 */
function showBanner(event) {
  const banner = MSCC.$("#banner");
  const myStreet = field.me.street_id || (mine() && mine().street_id);
  const mineToo = !event.street_id || !myStreet || event.street_id === myStreet;
  field.pendingAlerts = banner.hidden ? 0 : field.pendingAlerts + 1;
  banner.classList.toggle("other-street", !mineToo);
  banner.dataset.alert = event.alert_id || event.id || "";
  MSCC.$("#banner-title").textContent = `${mineToo ? "New alert" : "Alert in another street"}: ${MSCC.violationText(event.violation)}`;
  const where = [event.restaurant_id && field.names.restaurant(event.restaurant_id), event.street_id && field.names.street(event.street_id)];
  MSCC.$("#banner-text").textContent = `${where.filter(Boolean).join(" · ")} · ${MSCC.clock(new Date(event.ts || Date.now()))}`;
  MSCC.$("#banner-more").textContent = field.pendingAlerts ? `+${field.pendingAlerts} earlier alert(s) in the list below` : "";
  banner.hidden = false;
  if (mineToo && navigator.vibrate) navigator.vibrate([200, 100, 200]);
}

/** A task pushed by the supervisor: the banner stays until OK, and the phone vibrates. */
function showTaskBanner(event) {
  const banner = MSCC.$("#banner");
  field.pendingAlerts = banner.hidden ? 0 : field.pendingAlerts + 1;
  banner.classList.remove("other-street");
  banner.dataset.alert = "";
  banner.dataset.task = String(event.task_id);
  MSCC.$("#banner-title").textContent = `New task: ${field.names.restaurant(event.restaurant_id)}`;
  MSCC.$("#banner-text").textContent = `from ${event.actor} · ${MSCC.clock(new Date(event.ts || Date.now()))}`;
  MSCC.$("#banner-more").textContent = "Accept it under My tasks.";
  banner.hidden = false;
  if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
}

function hideBanner() {
  MSCC.$("#banner").hidden = true;
  field.pendingAlerts = 0;
}

async function refreshInspectors() {
  try {
    field.inspectors = await MSCC.api("/api/inspectors");
    field.names.addInspectors(field.inspectors);
    renderAll();
    MSCC.notice("");
  } catch (err) {
    if (err.status !== 401) MSCC.notice(`Refresh failed: ${err.message}`);
  }
}
