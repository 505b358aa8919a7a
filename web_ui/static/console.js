/* The street console: a supervisor's street (a district admin may pick any street or all of them).
   The server scopes every list and event to what the caller may see; this page only narrows further. */
"use strict";

const CONSOLE_REFRESH_MS = 60000;
const RESTAURANT_PAGE = 1000; // rows the table shows; the count line says when there are more
const CAMERA_ORDER = { offline: 0, degraded: 1, unknown: 2, online: 3 }; // problems first

const con = {
  names: new MSCC.Names(),
  streets: [],
  street: "", // the selected street id; "" = every street the caller may see
  restaurants: [],
  inspectors: [],
  cameras: new Map(),
  map: null,
  searchSeq: 0, // answers to older searches are ignored
};

MSCC.boot({ start: startConsole });

async function startConsole(me) {
  const [streets, restaurants, inspectors, cameras] = await Promise.all([
    MSCC.api("/api/streets"),
    MSCC.api(`/api/restaurants?limit=5000`),
    MSCC.api("/api/inspectors"),
    MSCC.api("/api/cameras"),
  ]);
  con.streets = streets;
  con.restaurants = restaurants;
  con.inspectors = inspectors;
  con.cameras = new Map(cameras.map((c) => [c.id, c]));
  con.names.addStreets(streets);
  con.names.addRestaurants(restaurants);
  con.names.addInspectors(inspectors);
  con.street = me.street_id && streets.some((s) => s.id === me.street_id) ? me.street_id : "";

  setUpStreetFilter();
  drawMap();
  con.feed = new MSCC.EventFeed(MSCC.$("#feed"), con.names, {
    accept: (e) => e.type !== "position", empty: "No alerts, cases or camera changes yet.",
  });
  con.moves = new MSCC.EventFeed(MSCC.$("#moves"), con.names, { accept: (e) => e.type === "position" });
  con.cases = new MSCC.CasesPanel({ names: con.names, inStreet, inspectors: () => con.inspectors });
  renderAll();
  await Promise.all([searchRestaurants(), con.cases.refresh()]);

  const form = MSCC.$("#restaurant-form");
  const debounced = debounce(searchRestaurants, 250);
  form.addEventListener("submit", (e) => { e.preventDefault(); searchRestaurants(); });
  MSCC.$("#restaurant-search").addEventListener("input", debounced);

  MSCC.startLive({ onEvent, onReconnect: refreshLists });
  setInterval(refreshLists, CONSOLE_REFRESH_MS);
  setInterval(() => { renderInspectors(); renderCameras(); con.cases.tick(); con.map.refreshStale(); }, 15000);
}

/* ---------------------------------------------------------------- street selection */

/** A supervisor sees one street and no picker; an admin gets "All streets" plus each street. */
function setUpStreetFilter() {
  const select = MSCC.$("#street-filter");
  if (con.streets.length > 1) {
    select.replaceChildren(MSCC.h("option", { value: "" }, "All streets"),
      ...con.streets.map((s) => MSCC.h("option", { value: s.id }, `${s.name} ${s.name_zh || ""}`)));
    select.value = con.street;
    select.hidden = false;
    select.addEventListener("change", () => {
      con.street = select.value;
      drawMap();
      renderAll();
      con.cases.render();
      searchRestaurants();
    });
  }
}

const inStreet = (item) => !con.street || item.street_id === con.street;
const selectedStreets = () => con.streets.filter((s) => !con.street || s.id === con.street);

function renderTitle() {
  const streets = selectedStreets();
  const title = MSCC.$("#title");
  if (streets.length === 1) title.replaceChildren("Street console · ", MSCC.streetName(streets[0]));
  else title.replaceChildren("Street console · all streets");
}

/* ---------------------------------------------------------------- map */

function drawMap() {
  const streets = selectedStreets();
  // Names next to markers only when one street's few inspectors are shown; twenty would overlap.
  con.map = new MSCC.DistrictMap(MSCC.$("#map"), streets, { fullLabels: streets.length === 1 });
  con.map.setRestaurants(con.restaurants.filter(inStreet));
  for (const i of con.inspectors.filter(inStreet)) if (i.last) con.map.moveDevice({ ...i.last, name: i.name });
}

/* ---------------------------------------------------------------- restaurants */

function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

/** Ask the server (it searches name, address and licence number) and show the answer in the table. */
async function searchRestaurants() {
  const q = MSCC.$("#restaurant-search").value.trim();
  const params = new URLSearchParams({ limit: RESTAURANT_PAGE });
  if (q) params.set("q", q);
  if (con.street) params.set("street", con.street);
  const seq = ++con.searchSeq;
  let result;
  try {
    result = await MSCC.request(`/api/restaurants?${params}`);
  } catch (err) {
    if (err.status !== 401) MSCC.notice(`Search failed: ${err.message}`);
    return;
  }
  if (seq !== con.searchSeq) return; // a newer search is on its way
  const total = Number(result.headers.get("X-Total-Count") || result.data.length);
  renderRestaurants(result.data, total, q);
}

function renderRestaurants(rows, total, q) {
  const all = con.restaurants.filter(inStreet).length;
  let count = q ? `${total} of ${all} match “${q}”` : `${total}`;
  if (rows.length < total) count += ` · first ${rows.length} shown`;
  MSCC.$("#restaurant-count").textContent = count;
  MSCC.$("#restaurants tbody").replaceChildren(...rows.map((r) =>
    MSCC.h("tr", { "data-id": r.id, "data-street": r.street_id, onclick: () => selectRestaurant(r.id) },
      MSCC.h("td", {}, r.name),
      MSCC.h("td", { class: "mono" }, r.licence_no),
      MSCC.h("td", {}, r.address),
      MSCC.h("td", {}, r.kind))));
  con.map.highlightRestaurants(q ? new Set(rows.map((r) => r.id)) : null);
}

function selectRestaurant(id) {
  for (const row of MSCC.$("#restaurants tbody").children) row.classList.toggle("selected", row.dataset.id === id);
  con.map.selectRestaurant(id);
}

/* ---------------------------------------------------------------- inspectors and cameras */

function renderAll() {
  renderTitle();
  renderInspectors();
  renderCameras();
}

function renderInspectors() {
  const team = con.inspectors.filter(inStreet).sort((a, b) => (b.online - a.online) || a.id.localeCompare(b.id));
  MSCC.$("#inspector-count").textContent = `${team.filter((i) => i.online).length} of ${team.length} online`;
  MSCC.$("#inspectors tbody").replaceChildren(...team.map((i) =>
    MSCC.h("tr", { "data-inspector": i.id, "data-online": i.online },
      MSCC.h("td", {}, MSCC.h("span", { class: `dot ${i.online ? "online" : "offline"}`, title: i.online ? "online" : "offline" })),
      MSCC.h("td", {}, i.name),
      MSCC.h("td", { class: "mono" }, i.device_id),
      MSCC.h("td", { class: "num" }, MSCC.ago(i.last && i.last.ts)),
      MSCC.h("td", { class: "num" }, i.last && typeof i.last.battery === "number" ? `${Math.round(i.last.battery)} %` : "–"))));
}

/** Where a camera is, in words: its restaurant, inspector or lab. */
function cameraPlace(camera) {
  if (camera.restaurant_id) return con.names.restaurant(camera.restaurant_id);
  const person = con.names.people.get(camera.owner_id);
  if (person) return `${person.name} (body camera)`;
  return `${camera.owner_kind} ${camera.owner_id}`;
}

function renderCameras() {
  const cameras = [...con.cameras.values()].filter(inStreet)
    .sort((a, b) => (CAMERA_ORDER[a.state] ?? 2) - (CAMERA_ORDER[b.state] ?? 2) || a.id.localeCompare(b.id));
  const counts = MSCC.cameraCounts(cameras.map((c) => ({ ...c, street_id: "" })))[""];
  MSCC.$("#camera-count").textContent = `${cameras.length}`;
  MSCC.$("#camera-pills").replaceChildren(MSCC.cameraPills(counts));
  MSCC.$("#cameras tbody").replaceChildren(...cameras.map((c) =>
    MSCC.h("tr", { "data-camera": c.id },
      MSCC.h("td", { class: "mono" }, c.id),
      MSCC.h("td", {}, cameraPlace(c)),
      MSCC.h("td", { title: c.state_message || "" }, MSCC.h("span", { class: "state" }, MSCC.h("span", { class: `dot ${c.state}` }), c.state)),
      MSCC.h("td", { class: "num" }, c.state_changed_at ? MSCC.ago(c.state_changed_at) : "–"))));
}

/* ---------------------------------------------------------------- live */

const renderInspectorsSoon = MSCC.coalesce(renderInspectors, 500);
const renderCamerasSoon = MSCC.coalesce(renderCameras, 500);

function onEvent(event) {
  con.feed.add(event);
  con.moves.add(event);
  con.cases.onEvent(event);
  if (event.type === "position") {
    const inspector = con.inspectors.find((i) => i.device_id === event.device_id);
    if (inspector) {
      inspector.online = true;
      inspector.last = { ...(inspector.last || {}), ts: event.ts, lat: event.lat, lon: event.lon };
      renderInspectorsSoon();
    }
    // Vehicles belong to no street; an inspector shows on the map of their street (or of all streets).
    if (!inspector || inStreet(inspector)) con.map.moveDevice({ ...event, name: inspector && inspector.name });
  } else if (event.type === "camera.status") {
    const camera = con.cameras.get(event.camera_id);
    if (camera) {
      camera.state = event.state;
      camera.state_message = event.message || null;
      camera.state_changed_at = event.ts;
      renderCamerasSoon();
    }
  }
}

/** Re-read what the server decides (online flags, camera states) after a gap or every minute. */
async function refreshLists() {
  try {
    const [inspectors, cameras] = await Promise.all([MSCC.api("/api/inspectors"), MSCC.api("/api/cameras"), con.cases.refresh()]);
    con.inspectors = inspectors;
    con.names.addInspectors(inspectors);
    con.cameras = new Map(cameras.map((c) => [c.id, c]));
    for (const i of inspectors.filter(inStreet)) if (i.last) con.map.moveDevice({ ...i.last, name: i.name });
    renderAll();
    MSCC.notice("");
  } catch (err) {
    if (err.status !== 401) MSCC.notice(`Refresh failed: ${err.message}`);
  }
}
