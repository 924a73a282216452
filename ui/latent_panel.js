// The explorer's live panel (see ui/latent_panel.py): latent sliders, decoded images, counts and
// Plotly histograms in one element that is updated in place on every rerun. Streamlit calls the
// default export on mount and again whenever `data` changes; per-element state lives in PANELS.

const PANELS = new WeakMap();
const CHART_CONFIG = { staticPlot: true, displayModeBar: false, responsive: true };

let plotlyLoading = null;

// Resolves once the browser has painted what is on the page now.
function afterPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

// plotly.js from the plotly Python package, loaded once per page as a classic script, after the
// first images have painted: parsing it (4.8 MB) holds the main thread for a second or more on a
// slow machine, and the images should not wait for the histograms (bench/RESULTS.md, cold start).
function loadPlotly(url) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyLoading) {
    plotlyLoading = afterPaint().then(() => new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { plotlyLoading = null; reject(new Error(`could not load ${url}`)); };
      document.head.appendChild(script);
    }));
  }
  return plotlyLoading;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatZ(v) {
  return `${Number(v).toFixed(2)} σ`;
}

function showValue(slider, value) {
  slider.output.textContent = formatZ(value);
  slider.input.setAttribute("aria-valuetext", formatZ(value)); // read "0.50 σ", not "0.5"
}

// Builds the slider bank. Moves are coalesced: while one value is on its way to the server the
// newest position waits, so dragging never queues a backlog of reruns.
function buildSliders(panel, data) {
  const grid = el("div", "z-grid");
  grid.setAttribute("role", "group");
  grid.setAttribute("aria-label", "latent vector z, in prior standard deviations");
  panel.sliders = data.z.map((value, i) => {
    const label = el("label", "z-slider");
    const input = el("input");
    Object.assign(input, { type: "range", min: -data.limit, max: data.limit, step: data.step });
    input.value = value;
    const slider = { input, output: el("output", "z-value") };
    showValue(slider, value);
    input.addEventListener("input", () => {
      showValue(slider, input.value);
      send(panel);
    });
    label.append(el("span", "z-name", `z${i + 1}`), input, slider.output);
    grid.append(label);
    return slider;
  });
  return grid;
}

function send(panel) {
  if (panel.inFlight) {
    panel.queued = true;
    return;
  }
  panel.inFlight = true;
  panel.queued = false;
  panel.setStateValue("z", panel.sliders.map((s) => Number(s.input.value)));
  // A rerun that changes nothing may not call us back; never block the sliders for long.
  panel.timer = setTimeout(() => release(panel), 1000);
}

function release(panel) {
  clearTimeout(panel.timer);
  panel.inFlight = false;
  if (panel.queued) send(panel);
}

// The view's link, set from what the server just drew: replaceState, so slider moves do not pile
// up in the browser's history (st.query_params would also re-render the whole app each move).
function showInUrl(query) {
  const url = new URL(window.location.href);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  if (url.href !== window.location.href) window.history.replaceState(window.history.state, "", url);
}

function ensureChildren(parent, count, make) {
  while (parent.children.length < count) parent.append(make());
  while (parent.children.length > count) parent.lastChild.remove();
  return Array.from(parent.children);
}

function makeColumn() {
  const column = el("div", "z-column");
  const title = el("div", "z-title");
  title.append(el("strong"), " · ", el("code"));
  // Each column carries its own histograms under its images: on a phone the columns stack, and
  // an image far from its histogram would tell half the story.
  column.append(title, el("div", "z-images"), el("div", "z-counts"), el("div", "z-chart"));
  return column;
}

function makeFigure() {
  const figure = el("figure", "z-figure");
  const img = el("img");
  img.width = 224;
  img.height = 224;
  figure.append(img, el("figcaption"));
  return figure;
}

function renderColumn(column, spec, plotlyUrl) {
  column.querySelector(".z-title strong").textContent = spec.title;
  column.querySelector(".z-title code").textContent = spec.name;
  column.querySelector(".z-title").title = `${spec.title} · ${spec.name}`;
  const figures = ensureChildren(column.querySelector(".z-images"), spec.images.length, makeFigure);
  spec.images.forEach((image, i) => {
    const img = figures[i].querySelector("img");
    if (img.getAttribute("src") !== image.src) img.src = image.src;
    img.alt = image.alt;
    figures[i].querySelector("figcaption").textContent = image.caption;
  });
  column.querySelector(".z-counts").textContent = spec.counts;
  renderChart(column.querySelector(".z-chart"), spec.chart, plotlyUrl);
}

// Everything about a figure but its traces' y values: when that is unchanged since the last draw
// (a slider move), only the bars need redrawing.
function figureShape(figure, fontColor) {
  return JSON.stringify([figure.data.map(({ y, ...trace }) => trace), figure.layout, fontColor]);
}

// A column's figure holds its histograms. A slider move changes only bar heights: Plotly.animate
// without a transition redraws just the traces, less than half the cost of Plotly.react (which
// redraws axes, shapes and titles too; bench/RESULTS.md). Anything else goes through Plotly.react.
function renderChart(chart, figure, plotlyUrl) {
  chart.pendingFigure = figure;
  loadPlotly(plotlyUrl).then(
    (Plotly) => {
      // Draw only the newest figure: an older promise may resolve after a newer rerun arrived.
      const pending = chart.pendingFigure;
      chart.pendingFigure = null;
      if (!pending) return;
      const fontColor = getComputedStyle(chart).color;
      const shape = figureShape(pending, fontColor);
      if (shape === chart.shape) {
        Plotly.animate(chart, { data: pending.data.map((trace) => ({ y: trace.y })) },
                       { mode: "immediate", transition: { duration: 0 }, frame: { duration: 0, redraw: false } });
        return;
      }
      // Transparent, in the page's text colour: right in Streamlit's light and dark themes alike.
      const layout = { ...pending.layout, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
                       font: { color: fontColor } };
      Plotly.react(chart, pending.data, layout, CHART_CONFIG);
      chart.shape = shape;
    },
    (err) => {
      chart.textContent = `Histograms unavailable: ${err.message}`;
    },
  );
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  if (!data) return;
  let panel = PANELS.get(parentElement);
  if (!panel || panel.sliders.length !== data.z.length) {
    if (panel) {
      clearTimeout(panel.timer);
      panel.root.remove(); // only our own nodes: Streamlit keeps the panel's <style> here too
    }
    panel = { rev: data.rev, inFlight: false, queued: false, timer: null, setStateValue };
    panel.root = el("div", "z-panel");
    // One line of fixed height under the sliders: where z lies in the prior, or the warning when it
    // is far outside. It never changes height, so the images below never jump.
    panel.warning = el("div", "z-prior");
    panel.warning.setAttribute("role", "status");
    panel.columns = el("div", "z-columns");
    panel.root.append(buildSliders(panel, data), panel.warning, panel.columns);
    parentElement.append(panel.root);
    PANELS.set(parentElement, panel);
  } else {
    panel.setStateValue = setStateValue;
    release(panel);
  }
  if (panel.rev !== data.rev) {
    // z was set on the server (buttons, a link): move the sliders there.
    panel.rev = data.rev;
    panel.sliders.forEach((s, i) => {
      s.input.value = data.z[i];
      showValue(s, data.z[i]);
    });
  }
  panel.warning.textContent = data.warning || data.prior || "";
  panel.warning.title = panel.warning.textContent; // the whole line, where a narrow screen cuts it
  panel.warning.classList.toggle("z-warning", Boolean(data.warning));
  const columns = ensureChildren(panel.columns, data.columns.length, makeColumn);
  data.columns.forEach((spec, i) => renderColumn(columns[i], spec, data.plotly));
  showInUrl(data.query);
}
