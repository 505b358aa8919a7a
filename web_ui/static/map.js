/* mscc district map: street polygons, restaurant dots and live device markers drawn in one SVG.
   No tiles (the LAN has no internet): the streets themselves are the map. */
"use strict";

// Distinct on both the dark wall and the light console; assigned to streets in the order the API lists them.
MSCC.STREET_COLORS = ["#2bb3a3", "#e8a33d", "#8f7ae5", "#e0665f", "#4aa3df", "#8cc152", "#d56fb1", "#c9b037"];

MSCC.streetColors = function streetColors(streets) {
  const colors = new Map();
  streets.forEach((s, i) => colors.set(s.id, MSCC.STREET_COLORS[i % MSCC.STREET_COLORS.length]));
  return colors;
};

const MAP_WIDTH = 1000; // SVG user units; the height follows the district's shape
const STALE_MS = 5 * 60 * 1000; // the server's "online" window: older fixes are drawn grey

/**
 * Equirectangular projection fitted to `points` ([lat, lon] pairs). Longitude is scaled by cos(mean
 * latitude) so that the district keeps its shape; at district size the error is far below a pixel.
 */
MSCC.fitProjection = function fitProjection(points, width = MAP_WIDTH, padding = 0.05) {
  const lats = points.map((p) => p[0]);
  const lons = points.map((p) => p[1]);
  const minLat = Math.min(...lats), maxLat = Math.max(...lats);
  const minLon = Math.min(...lons), maxLon = Math.max(...lons);
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const spanX = Math.max((maxLon - minLon) * k, 1e-6);
  const spanY = Math.max(maxLat - minLat, 1e-6);
  const pad = padding * Math.max(spanX, spanY);
  const scale = width / (spanX + 2 * pad);
  return {
    width,
    height: Math.round((spanY + 2 * pad) * scale),
    scale,
    project: (lat, lon) => [((lon - minLon) * k + pad) * scale, ((maxLat - lat) + pad) * scale],
  };
};

/** Area centroid of a projected polygon (falls back to the vertex mean for degenerate shapes). */
function centroid(xy) {
  let area = 0, cx = 0, cy = 0;
  for (let i = 0; i < xy.length; i++) {
    const [x0, y0] = xy[i];
    const [x1, y1] = xy[(i + 1) % xy.length];
    const cross = x0 * y1 - x1 * y0;
    area += cross;
    cx += (x0 + x1) * cross;
    cy += (y0 + y1) * cross;
  }
  if (Math.abs(area) < 1e-9) {
    return [xy.reduce((s, p) => s + p[0], 0) / xy.length, xy.reduce((s, p) => s + p[1], 0) / xy.length];
  }
  return [cx / (3 * area), cy / (3 * area)];
}

const round = (v) => Math.round(v * 10) / 10;

MSCC.DistrictMap = class DistrictMap {
  /**
   * @param svg     the <svg> element to draw into
   * @param streets the streets from /api/streets (the map fits their union)
   * @param options {fullLabels: draw inspector names next to markers (few markers, large map),
   *                 labelPx: street label size, zoom: size factor of labels and markers}
   */
  constructor(svg, streets, { fullLabels = false, labelPx = 16, zoom = 1 } = {}) {
    this.svg = svg;
    this.streets = streets;
    this.fullLabels = fullLabels;
    this.labelPx = labelPx;
    this.zoom = zoom; // > 1 draws labels and markers larger (the wall is read from across the room)
    this.colors = MSCC.streetColors(streets);
    this.devices = new Map();
    const points = streets.flatMap((s) => s.polygon);
    this.proj = MSCC.fitProjection(points.length ? points : [[0, 0], [0.01, 0.01]]);
    svg.setAttribute("viewBox", `0 0 ${this.proj.width} ${this.proj.height}`);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.classList.add("map");
    this.layers = {};
    for (const name of ["streets", "restaurants", "labels", "devices"]) {
      this.layers[name] = MSCC.svg("g", { class: `layer-${name}` });
    }
    svg.replaceChildren(...Object.values(this.layers));
    this.unit = this.measureUnit();
    this.drawStreets();
    // Labels and markers are drawn in screen pixels (scaled by this.unit), so they keep their size
    // whether the map fills a wall or a laptop panel.
    if (!MSCC.DistrictMap.resizeHooked) {
      MSCC.DistrictMap.resizeHooked = true;
      window.addEventListener("resize", MSCC.coalesce(() => MSCC.DistrictMap.current?.rescale(), 200));
    }
    MSCC.DistrictMap.current = this;
  }

  /** SVG user units per CSS pixel at the current size ("meet" scales by the tighter side). */
  measureUnit() {
    const box = this.svg.getBoundingClientRect();
    if (!box.width || !box.height) return (this.proj.width / 800) * this.zoom;
    return Math.max(this.proj.width / box.width, this.proj.height / box.height) * this.zoom;
  }

  rescale() {
    this.unit = this.measureUnit();
    const scale = `scale(${this.unit.toFixed(4)})`;
    for (const el of this.svg.querySelectorAll(".glyph")) el.setAttribute("transform", scale);
    for (const dot of this.layers.restaurants.children) dot.setAttribute("r", round(3.2 * this.unit));
  }

  drawStreets() {
    for (const street of this.streets) {
      const xy = street.polygon.map(([lat, lon]) => this.proj.project(lat, lon));
      const color = this.colors.get(street.id);
      this.layers.streets.append(MSCC.svg("polygon", {
        class: "street", "data-street": street.id, fill: color, stroke: color,
        points: xy.map(([x, y]) => `${round(x)},${round(y)}`).join(" "),
      }, MSCC.svg("title", {}, `${street.name} ${street.name_zh || ""}`)));
      const [cx, cy] = centroid(xy);
      const px = this.labelPx;
      this.layers.labels.append(MSCC.svg("g", { transform: `translate(${round(cx)} ${round(cy)})` },
        MSCC.svg("text", { class: "street-label glyph", "data-street": street.id, "font-size": px, transform: `scale(${this.unit.toFixed(4)})` },
          MSCC.svg("tspan", { x: 0, dy: 0 }, street.name),
          street.name_zh ? MSCC.svg("tspan", { x: 0, dy: round(px * 1.15), lang: "zh" }, street.name_zh) : null)));
    }
  }

  /** Restaurants as small dots in their street's colour. */
  setRestaurants(restaurants) {
    const r = 3.2 * this.unit;
    this.layers.restaurants.replaceChildren(...restaurants.map((rest) => {
      const [x, y] = this.proj.project(rest.lat, rest.lon);
      return MSCC.svg("circle", {
        class: "restaurant", "data-id": rest.id, cx: round(x), cy: round(y), r: round(r),
        fill: this.colors.get(rest.street_id) || "#999",
      }, MSCC.svg("title", {}, `${rest.name} · ${rest.licence_no}`));
    }));
  }

  /** Dim every restaurant not in `ids` (a Set); null shows them all. */
  highlightRestaurants(ids) {
    for (const dot of this.layers.restaurants.children) {
      dot.classList.toggle("dim", ids !== null && !ids.has(dot.dataset.id));
    }
  }

  selectRestaurant(id) {
    for (const dot of this.layers.restaurants.children) dot.classList.toggle("selected", dot.dataset.id === id);
  }

  /**
   * Place or move a device marker. device: {device_id, lat, lon, ts, name?}. Inspectors are round,
   * test vehicles (veh-*) are diamonds, so the two are told apart without reading labels.
   */
  moveDevice(device) {
    if (typeof device.lat !== "number" || typeof device.lon !== "number") return;
    let marker = this.devices.get(device.device_id);
    if (!marker) {
      marker = this.createMarker(device);
      this.devices.set(device.device_id, marker);
      this.layers.devices.append(marker);
    }
    const [x, y] = this.proj.project(device.lat, device.lon);
    marker.setAttribute("transform", `translate(${round(x)} ${round(y)})`);
    marker.dataset.ts = device.ts || new Date().toISOString();
    marker.classList.toggle("stale", this.isStale(marker.dataset.ts));
    // The newest fix is drawn on top.
    this.layers.devices.append(marker);
  }

  isStale(ts) {
    return Date.now() - Date.parse(ts) > STALE_MS;
  }

  /** Re-grey markers whose last fix has become old (called by the pages every few seconds). */
  refreshStale() {
    for (const marker of this.devices.values()) marker.classList.toggle("stale", this.isStale(marker.dataset.ts));
  }

  createMarker(device) {
    const id = device.device_id;
    const vehicle = id.startsWith("veh");
    // "insp-07" -> "07", "veh-02" -> "V2": short enough to fit inside the symbol.
    const digits = (id.match(/(\d+)$/) || ["", id.slice(-2)])[1];
    const short = vehicle ? `V${Number(digits) || digits}` : digits;
    const body = vehicle
      ? MSCC.svg("rect", { class: "body", x: -9, y: -9, width: 18, height: 18, rx: 3, transform: "rotate(45)" })
      : MSCC.svg("circle", { class: "body", r: 11 });
    const title = device.name ? `${device.name} (${id})` : id;
    // The outer group carries the position (transform=translate); the inner one the pixel scale.
    return MSCC.svg("g", { class: `device ${vehicle ? "vehicle" : "inspector"}`, "data-device": id },
      MSCC.svg("title", {}, title),
      MSCC.svg("g", { class: "glyph", transform: `scale(${this.unit.toFixed(4)})` },
        body,
        MSCC.svg("text", { "font-size": 11 }, short),
        this.fullLabels && device.name ? MSCC.svg("text", { class: "name", x: 15, "font-size": 13 }, device.name) : null));
  }
};
