/* The district wall display: map, per-street tiles, live feed. Read-only; meant to run unattended. */
"use strict";

const REFRESH_MS = 60000; // inspectors' online flag and camera states are re-read this often

const wall = {
  names: new MSCC.Names(),
  streets: [],
  inspectors: new Map(), // inspector id -> inspector from /api/inspectors (kept current by events)
  cameras: new Map(), // camera id -> camera
  restaurantTotal: 0,
  alerts: 0,
  map: null,
  feed: null, // alerts, cases, cameras, labs and unknown types
  moves: null, // positions, one line per device
};

MSCC.boot({ start: startWall, acceptUrlToken: true });

async function startWall() {
  const [streets, restaurants, cameras, inspectors] = await Promise.all([
    MSCC.api("/api/streets"),
    MSCC.request("/api/restaurants?limit=5000"),
    MSCC.api("/api/cameras"),
    MSCC.api("/api/inspectors"),
  ]);
  wall.streets = streets;
  wall.restaurantTotal = Number(restaurants.headers.get("X-Total-Count") || restaurants.data.length);
  wall.names.addStreets(streets);
  wall.names.addRestaurants(restaurants.data);
  wall.names.addInspectors(inspectors);
  setCameras(cameras);
  setInspectors(inspectors);

  wall.map = new MSCC.DistrictMap(MSCC.$("#map"), streets, { zoom: 1.35, labelPx: 20 });
  wall.map.setRestaurants(restaurants.data);
  for (const i of inspectors) if (i.last) wall.map.moveDevice({ ...i.last, name: i.name });

  wall.feed = new MSCC.EventFeed(MSCC.$("#feed"), wall.names, { max: 50, accept: (e) => e.type !== "position",
    empty: "No alerts, cases or camera changes since this screen started." });
  wall.moves = new MSCC.EventFeed(MSCC.$("#moves"), wall.names, { max: 50, accept: (e) => e.type === "position" });
  renderTiles();
  renderTotals();
  MSCC.startLive({ onEvent, onReconnect: refreshLists });

  tickClock();
  setInterval(tickClock, 1000);
  setInterval(refreshLists, REFRESH_MS);
  setInterval(() => wall.map.refreshStale(), 15000);
}

function setCameras(cameras) {
  wall.cameras = new Map(cameras.map((c) => [c.id, c]));
}

function setInspectors(inspectors) {
  wall.inspectors = new Map(inspectors.map((i) => [i.id, i]));
}

/** Re-read what the server decides (who is online, camera states) after a gap or every minute. */
async function refreshLists() {
  try {
    const [cameras, inspectors] = await Promise.all([MSCC.api("/api/cameras"), MSCC.api("/api/inspectors")]);
    setCameras(cameras);
    setInspectors(inspectors);
    wall.names.addInspectors(inspectors);
    for (const i of inspectors) if (i.last) wall.map.moveDevice({ ...i.last, name: i.name });
    renderTiles();
    renderTotals();
    MSCC.notice("");
  } catch (err) {
    if (err.status !== 401) MSCC.notice(`Refresh failed: ${err.message}`);
  }
}

function onEvent(event) {
  wall.feed.add(event);
  wall.moves.add(event);
  switch (event.type) {
    case "position":
      wall.map.moveDevice({ ...event, name: wall.names.people.get(event.device_id)?.name });
      markOnline(event);
      break;
    case "camera.status": {
      const camera = wall.cameras.get(event.camera_id);
      if (camera) camera.state = event.state;
      break;
    }
    case "alert.created":
      wall.alerts += 1;
      break;
    default:
      return; // nothing else changes tiles or totals
  }
  renderTiles();
  renderTotals();
}

/** A fix just arrived, so the inspector is online whatever the last list said. */
function markOnline(event) {
  const inspector = event.inspector_id && wall.inspectors.get(event.inspector_id);
  if (!inspector) return;
  inspector.online = true;
  inspector.last = { ...(inspector.last || {}), ts: event.ts, lat: event.lat, lon: event.lon };
}

function renderTotals() {
  const inspectors = [...wall.inspectors.values()];
  const cameras = [...wall.cameras.values()];
  MSCC.$("#total-restaurants").textContent = wall.restaurantTotal;
  MSCC.$("#total-inspectors").textContent = `${inspectors.filter((i) => i.online).length}/${inspectors.length}`;
  MSCC.$("#total-cameras").textContent = `${cameras.filter((c) => c.state === "online").length}/${cameras.length}`;
  MSCC.$("#total-alerts").textContent = wall.alerts;
}

function renderTiles() {
  const cameraCounts = MSCC.cameraCounts(wall.cameras.values());
  const colors = MSCC.streetColors(wall.streets);
  const tiles = MSCC.$("#tiles");
  tiles.style.setProperty("--cols", Math.min(Math.max(wall.streets.length, 1), 6));
  tiles.replaceChildren(...wall.streets.map((street) => {
    const team = [...wall.inspectors.values()].filter((i) => i.street_id === street.id);
    const online = team.filter((i) => i.online).length;
    return MSCC.h("article", { class: "panel tile", "data-street": street.id, style: `--street-color: ${colors.get(street.id)}` },
      MSCC.h("h3", {}, MSCC.streetName(street)),
      MSCC.h("dl", { class: "stats" },
        MSCC.h("div", {}, MSCC.h("dt", {}, "restaurants"),
          MSCC.h("dd", { "data-stat": "restaurants" }, street.restaurant_count)),
        MSCC.h("div", {}, MSCC.h("dt", {}, "inspectors online"),
          MSCC.h("dd", { "data-stat": "inspectors" }, online, MSCC.h("small", {}, ` / ${team.length}`)))),
      MSCC.cameraPills(cameraCounts[street.id]));
  }));
}

function tickClock() {
  const now = new Date();
  const date = now.toLocaleDateString([], { weekday: "short", year: "numeric", month: "short", day: "numeric" });
  MSCC.$("#clock").replaceChildren(MSCC.clock(now), MSCC.h("small", {}, date));
}
