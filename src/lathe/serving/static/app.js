// The lathe prediction page: pick a model, fill the form built from its schema, see the answer.
// Plain JS, no dependencies: everything comes from this server's own API.
"use strict";

const $ = (id) => document.getElementById(id);
let schema = null;

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("apikey").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  const unit = $("unit").value.trim();
  if (unit) h["X-Unit-Id"] = unit;
  return h;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const hint = body.hint ? " — " + body.hint : "";
    throw new Error((body.message || response.statusText) + hint);
  }
  return body;
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
}

async function loadExperiments() {
  // the experiments this server routes by (lathe serve --experiments)
  try {
    const { experiments } = await api("/v1/experiments");
    const rows = $("experiment-rows");
    rows.innerHTML = "";
    for (const e of experiments) {
      const tr = document.createElement("tr");
      const share = e.rolled_back ? "rolled back" : `${e.treatment_share}%`;
      for (const value of [e.experiment, e.model, e.mode, e.control, e.treatment, share, e.unit]) {
        const td = document.createElement("td");
        td.textContent = value;
        tr.appendChild(td);
      }
      rows.appendChild(tr);
    }
    $("experiments").hidden = experiments.length === 0;
  } catch (error) {
    $("experiments").hidden = true;
  }
}

async function loadModels() {
  try {
    const { models } = await api("/v1/models");
    const select = $("model");
    select.innerHTML = "";
    for (const m of models) {
      const option = document.createElement("option");
      option.value = m.name;
      option.textContent = `${m.name} (${m.task}, ${m.version})`;
      select.appendChild(option);
    }
    showError(null);
    // shareable links: /?model=NAME&age=52&workclass=Private&predict=1
    const params = new URLSearchParams(window.location.search);
    const wanted = params.get("model");
    if (wanted && models.some((m) => m.name === wanted)) select.value = wanted;
    if (models.length) await loadSchema(select.value);
    for (const input of $("fields").querySelectorAll("[name]")) {
      if (params.has(input.name)) input.value = params.get(input.name);
    }
    if (params.get("predict") === "1") await predict();
  } catch (error) {
    showError(error);
  }
}

function fieldFor(f) {
  const label = document.createElement("label");
  label.textContent = f.name;
  let input;
  if (f.kind === "text") {
    input = document.createElement("textarea");
    label.className = "wide";
    input.placeholder = "paste text here";
  } else if (f.kind === "categorical" && f.categories) {
    input = document.createElement("select");
    for (const c of ["", ...f.categories]) {
      const option = document.createElement("option");
      option.value = c;
      option.textContent = c === "" ? "(missing)" : c;
      input.appendChild(option);
    }
  } else if (f.kind === "boolean") {
    input = document.createElement("select");
    for (const c of ["", "true", "false"]) {
      const option = document.createElement("option");
      option.value = c;
      option.textContent = c === "" ? "(missing)" : c;
      input.appendChild(option);
    }
  } else {
    input = document.createElement("input");
    input.type = f.kind === "numeric" ? "number" : "text";
    input.step = "any";
  }
  input.name = f.name;
  input.dataset.kind = f.kind;
  label.appendChild(input);
  return label;
}

async function loadSchema(name) {
  schema = await api(`/v1/models/${encodeURIComponent(name)}/schema`);
  const box = $("fields");
  box.innerHTML = "";
  schema.fields.forEach((f) => box.appendChild(fieldFor(f)));
  $("model-info").textContent =
    `${schema.family} · ${schema.task} · predicts ${schema.target}` +
    (schema.classes ? ` (${schema.classes.length} classes)` : "");
  $("answer").hidden = true;
}

function readRow() {
  const row = {};
  for (const input of $("fields").querySelectorAll("[name]")) {
    const raw = input.value;
    if (raw === "") row[input.name] = null;
    else if (input.dataset.kind === "numeric") row[input.name] = Number(raw);
    else row[input.name] = raw;
  }
  return row;
}

function showAnswer(body) {
  const p = body.predictions[0];
  $("version").textContent = body.version;
  $("variant").textContent = body.variant || "—";
  $("request-id").textContent = body.request_id;
  const bars = $("bars");
  bars.innerHTML = "";
  if ("value" in p) {
    $("label").textContent = p.value.toPrecision(5);
  } else {
    $("label").textContent = p.label;
    const sorted = Object.entries(p.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 10);
    for (const [cls, prob] of sorted) {
      const bar = document.createElement("div");
      bar.className = "bar" + (String(cls) === String(p.label) ? " top" : "");
      bar.dataset.class = cls;
      bar.innerHTML = '<span class="name"></span><div class="track"><div class="fill"></div></div><span class="p"></span>';
      bar.querySelector(".name").textContent = cls;
      bar.querySelector(".fill").style.width = (100 * prob).toFixed(1) + "%";
      bar.querySelector(".p").textContent = (100 * prob).toFixed(1) + "%";
      bars.appendChild(bar);
    }
  }
  $("answer").hidden = false;
}

async function predict() {
  if (!schema) return;
  try {
    const body = await api(`/v1/models/${encodeURIComponent(schema.name)}/predict`, {
      method: "POST",
      body: JSON.stringify({ rows: [readRow()] }),
    });
    showError(null);
    showAnswer(body);
  } catch (error) {
    showError(error);
  }
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  predict();
});
$("model").addEventListener("change", (e) => loadSchema(e.target.value).catch(showError));
$("apikey").addEventListener("change", loadModels);
loadModels();
loadExperiments();
