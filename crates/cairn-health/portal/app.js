// The hospital portal: a single page with hash routes (#/lookup, #/intake,
// #/patient/<id>, #/attestation) over the portal server's same-origin JSON API.
//
// Invariants:
// - patient data never goes into a URL (searches are POSTs; routes carry only
//   the opaque patient id), into localStorage/sessionStorage, or into the
//   console: this file has no console calls at all;
// - text from the server is only ever put into the page as text
//   (textContent / text nodes), never parsed as HTML;
// - every attestation token the page shows has been verified in this browser
//   by verify.js against the pinned policy (/portal/config.json) and the JWKS,
//   and its per-check result is shown next to it;
// - the virtual banner is visible whenever the platform token last verified,
//   or any token on the current screen, is from the software-only platform;
// - window.__portalReady becomes true once the first screen is rendered, also
//   when the policy could not be loaded (then #error says so).

import { decodeToken, formatTime, verifyToken } from "./verify.js";

const REQUEST_TIMEOUT_MS = 20000;
const FEATURE_COUNT = 30;
const MAX_INPUT_BYTES = 64 * 1024;
const PATIENT_ID = /^pt_[A-Za-z0-9_-]{1,64}$/;

const state = {
  config: null,
  configError: "",
  platformVirtual: false,
  shownVirtual: false,
  generation: 0,
  flash: "",
  receiptUrl: null,
};

// ---- DOM helpers -------------------------------------------------------------

/** Creates an element; attributes by name (`on*` are listeners), children as text or nodes. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const byId = (id) => document.getElementById(id);

function showError(message) {
  byId("error").textContent = message;
}

/** Clears the last error; a missing policy stays visible on every screen. */
function clearError() {
  byId("error").textContent = state.configError;
}

function updateBanner() {
  byId("virtual-banner").hidden = !(state.platformVirtual || state.shownVirtual);
}

function fieldList(pairs, attrs = {}) {
  const dl = h("dl", { class: "fields", ...attrs });
  for (const [name, value] of pairs) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(h("dt", {}, name), h("dd", { "data-field": name }, value));
  }
  return dl;
}

function timeText(value) {
  return typeof value === "number" ? formatTime(value) : value;
}

// ---- the server API ----------------------------------------------------------

/** A same-origin JSON call; throws an Error whose message names the call and the server's reason. */
async function api(method, path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    throw new Error(
      e.name === "AbortError"
        ? `${method} ${path} got no answer within ${REQUEST_TIMEOUT_MS / 1000} s; check that the portal server is running, then try again`
        : `${method} ${path} failed: the portal server cannot be reached; check that it is running, then reload`,
    );
  } finally {
    clearTimeout(timer);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const reason = data && typeof data.error === "string" ? data.error : `HTTP ${response.status} ${response.statusText}`.trim();
    throw new Error(`${method} ${path}: ${reason}`);
  }
  if (data === null || typeof data !== "object") {
    throw new Error(`${method} ${path} did not return JSON; is this the Cairn portal server?`);
  }
  return data;
}

/** Fetches the pinned policy and the JWKS afresh (keys rotate). */
async function loadPolicy() {
  const [config, jwks] = await Promise.all([api("GET", "/portal/config.json"), api("GET", "/portal/jwks.json")]);
  if (typeof config.issuer !== "string" || !Array.isArray(config.platform_measurements) || !Array.isArray(config.diagnostics_measurements)) {
    throw new Error("/portal/config.json lacks issuer, platform_measurements or diagnostics_measurements; fix the portal server's policy");
  }
  state.config = config;
  state.configError = "";
  return { config, jwks };
}

function policyFor(role, config, jwks, nonce) {
  return {
    jwks,
    issuer: config.issuer,
    nonce,
    measurements: role === "diagnostics" ? config.diagnostics_measurements : config.platform_measurements,
    allowVirtual: config.allow_virtual === true,
  };
}

// ---- tokens and checks -------------------------------------------------------

/** The `<ul>` of checks: stable hooks `data-check`, `data-result`, `data-overall`. */
function checkList(id, result) {
  const ul = h("ul", { id, class: "checks", "data-overall": result.ok ? "pass" : "fail" });
  for (const c of result.checks) {
    ul.append(h("li", { class: "check", "data-check": c.name, "data-result": c.result }, `${c.name}: ${c.detail}`));
  }
  return ul;
}

function overallPill(ok) {
  return h("span", { class: `pill ${ok ? "pill-pass" : "pill-fail"}` }, ok ? "VERIFIED" : "NOT VERIFIED");
}

/** A decoded, verified token: claims, VIRTUAL badge, checks, raw token. */
function tokenCard(title, token, result, checksId, note) {
  const c = result.claims || {};
  const rd = c.runtime_data && typeof c.runtime_data === "object" ? c.runtime_data : {};
  const userData = rd.user_data && typeof rd.user_data === "object" ? Object.entries(rd.user_data) : [];
  if (result.virtual) {
    state.shownVirtual = true;
    updateBanner();
  }
  return h(
    "section",
    { class: `card token-card ${result.ok ? "ok" : "bad"}`, "data-token": checksId.replace(/-checks$/, "") },
    h(
      "h3",
      {},
      `${title} `,
      overallPill(result.ok),
      " ",
      result.virtual ? h("span", { class: "pill badge-virtual virtual-badge", title: "software only: no hardware TEE" }, "VIRTUAL") : null,
    ),
    note ? h("p", { class: "muted" }, note) : null,
    fieldList([
      ["iss", c.iss],
      ["platform", c.platform === undefined ? undefined : `${c.platform}${c.hardware === true ? " (hardware)" : " (software only)"}`],
      ["measurement", c.measurement],
      ["jti", c.jti],
      ["iat", timeText(c.iat)],
      ["exp", timeText(c.exp)],
      ["nonce", c.nonce],
      ["kid", result.header && result.header.kid],
      ...userData.map(([k, v]) => [`runtime_data.user_data.${k}`, String(v)]),
    ]),
    h("h3", {}, "Checks (in this browser, against the pinned policy)"),
    checkList(checksId, result),
    h("details", {}, h("summary", {}, "Raw token"), h("pre", { class: "break" }, token)),
  );
}

// ---- routing -----------------------------------------------------------------

function route() {
  const generation = ++state.generation;
  const hash = location.hash || "#/lookup";
  const match = /^#\/([a-z]+)(?:\/(.*))?$/.exec(hash);
  const name = match ? match[1] : "lookup";
  state.shownVirtual = false;
  clearError();
  updateBanner();
  for (const a of byId("nav").querySelectorAll("a[data-route]")) {
    a.classList.toggle("active", a.dataset.route === name || (name === "patient" && a.dataset.route === "lookup"));
  }
  const main = byId("main");
  main.replaceChildren();
  const current = () => generation === state.generation;
  switch (name) {
    case "intake":
      return renderIntake(main);
    case "patient":
      return renderPatient(main, match[2] || "", current);
    case "attestation":
      return renderAttestation(main, current);
    default:
      return renderLookup(main, current);
  }
}

// ---- lookup ------------------------------------------------------------------

function renderLookup(main, current) {
  const results = h("div", { id: "lookup-results" });
  const form = h(
    "form",
    { class: "card", method: "post", autocomplete: "off" },
    h("h1", {}, "Patient lookup"),
    h(
      "div",
      { class: "grid" },
      h("label", {}, "Family name", h("input", { id: "lookup-family", type: "text" })),
      h("label", {}, "Given name", h("input", { id: "lookup-given", type: "text" })),
      h("label", {}, "Date of birth", h("input", { id: "lookup-dob", type: "date" })),
    ),
    h("div", { class: "actions" }, h("button", { id: "lookup-submit", type: "submit" }, "Search"), h("a", { href: "#/intake" }, "Admit a new patient")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearError();
    const query = {};
    for (const [key, id] of [["familyName", "lookup-family"], ["givenName", "lookup-given"], ["dateOfBirth", "lookup-dob"]]) {
      const v = byId(id).value.trim();
      if (v) query[key] = v;
    }
    if (Object.keys(query).length === 0) {
      showError("Enter a family name, a given name or a date of birth to search.");
      return;
    }
    try {
      const { patients } = await api("POST", "/api/patients/search", query);
      if (!current()) return;
      results.replaceChildren(patientTable(Array.isArray(patients) ? patients : []));
    } catch (err) {
      if (current()) showError(err.message);
    }
  });
  main.append(form, results);
}

function patientTable(patients) {
  if (patients.length === 0) return h("p", { class: "muted", "data-empty": true }, "No patient matches. Check the spelling, or admit the patient.");
  const body = h("tbody");
  for (const p of patients) {
    const link = h("a", { href: `#/patient/${encodeURIComponent(p.id)}`, class: "patient-link" }, `${p.familyName}, ${p.givenName}`);
    body.append(h("tr", { class: "patient-row", "data-id": p.id }, h("td", {}, link), h("td", {}, p.dateOfBirth), h("td", { class: "mono" }, p.id)));
  }
  return h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Date of birth"), h("th", {}, "Patient id"))), body);
}

// ---- intake ------------------------------------------------------------------

/** Intake fields: [JSON path, label, input kind]; ids are `intake-` + the path joined by `-`. */
const INTAKE_FIELDS = [
  ["Patient", [
    ["givenName", "Given name *", "text"],
    ["familyName", "Family name *", "text"],
    ["dateOfBirth", "Date of birth *", "date"],
    ["sex", "Sex", "sex"],
    ["nationalId", "National id", "text"],
    ["phone", "Phone", "tel"],
    ["email", "Email", "email"],
  ]],
  ["Address", [
    ["address.line", "Street and number", "text"],
    ["address.city", "City", "text"],
    ["address.postalCode", "Postal code", "text"],
    ["address.country", "Country", "text"],
  ]],
  ["Clinical (comma- or line-separated lists)", [
    ["allergies", "Allergies", "list"],
    ["conditions", "Conditions", "list"],
    ["medications", "Medications", "list"],
  ]],
  ["Insurance", [
    ["insurance.provider", "Provider", "text"],
    ["insurance.memberId", "Member id", "text"],
  ]],
  ["Emergency contact", [
    ["emergencyContact.name", "Name", "text"],
    ["emergencyContact.phone", "Phone", "tel"],
  ]],
];

const intakeId = (path) => `intake-${path.replace(/\./g, "-")}`;

function intakeInput(path, kind) {
  const id = intakeId(path);
  if (kind === "sex") {
    return h("select", { id }, h("option", { value: "" }, "—"), ...["female", "male", "other", "unknown"].map((s) => h("option", { value: s }, s)));
  }
  if (kind === "list") return h("textarea", { id, placeholder: "one per line, or comma-separated" });
  return h("input", { id, type: kind, required: path === "givenName" || path === "familyName" || path === "dateOfBirth" });
}

function renderIntake(main) {
  const form = h("form", { class: "card", method: "post", autocomplete: "off", novalidate: true }, h("h1", {}, "Hospital admission"));
  for (const [legend, fields] of INTAKE_FIELDS) {
    form.append(
      h("fieldset", {}, h("legend", {}, legend), h("div", { class: "grid" }, fields.map(([path, label, kind]) => h("label", {}, label, intakeInput(path, kind))))),
    );
  }
  const submit = h("button", { id: "intake-submit", type: "submit" }, "Admit patient");
  form.append(h("div", { class: "actions" }, submit, h("span", { class: "muted" }, "* required")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearError();
    let intake;
    try {
      intake = readIntake();
    } catch (err) {
      showError(err.message);
      return;
    }
    submit.disabled = true;
    try {
      const { id, txid } = await api("POST", "/api/patients", intake);
      if (typeof id !== "string" || !PATIENT_ID.test(id)) throw new Error("the server returned no valid patient id; the admission may not have been recorded");
      state.flash = `Admitted. Recorded in transaction ${txid}.`;
      form.reset();
      location.hash = `#/patient/${encodeURIComponent(id)}`;
    } catch (err) {
      showError(err.message);
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
}

function splitList(text) {
  return text.split(/[,\n]/).map((s) => s.trim()).filter((s) => s !== "");
}

/** The intake JSON from the form; throws with a message naming what to fix. */
function readIntake() {
  const value = (path) => byId(intakeId(path)).value.trim();
  const missing = [["givenName", "given name"], ["familyName", "family name"], ["dateOfBirth", "date of birth"]].filter(([p]) => !value(p));
  if (missing.length) throw new Error(`Fill in the ${missing.map(([, l]) => l).join(", ")}.`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value("dateOfBirth"))) throw new Error("The date of birth must be a date (YYYY-MM-DD).");
  const intake = { givenName: value("givenName"), familyName: value("familyName"), dateOfBirth: value("dateOfBirth") };
  for (const key of ["sex", "nationalId", "phone", "email"]) if (value(key)) intake[key] = value(key);
  for (const key of ["allergies", "conditions", "medications"]) {
    const items = splitList(byId(intakeId(key)).value);
    if (items.length) intake[key] = items;
  }
  const groups = [
    ["address", "Address", ["line", "city", "postalCode", "country"]],
    ["insurance", "Insurance", ["provider", "memberId"]],
    ["emergencyContact", "Emergency contact", ["name", "phone"]],
  ];
  for (const [key, label, parts] of groups) {
    const filled = parts.filter((p) => value(`${key}.${p}`));
    if (filled.length === 0) continue;
    if (filled.length !== parts.length) throw new Error(`${label}: fill in every field (${parts.join(", ")}) or leave them all empty.`);
    intake[key] = Object.fromEntries(parts.map((p) => [p, value(`${key}.${p}`)]));
  }
  return intake;
}

// ---- patient -----------------------------------------------------------------

async function renderPatient(main, rawId, current) {
  let id;
  try {
    id = decodeURIComponent(rawId);
  } catch {
    id = "";
  }
  if (!PATIENT_ID.test(id)) {
    showError("This is not a patient id (pt_…). Find the patient with the lookup.");
    return;
  }
  main.append(h("h1", {}, "Patient ", h("span", { id: "patient-id", class: "mono" }, id)));
  if (state.flash) {
    main.append(h("p", { class: "card", id: "flash" }, state.flash));
    state.flash = "";
  }
  const record = h("section", { class: "card" }, h("p", { class: "muted" }, "Loading the record…"));
  const past = h("section", { class: "card" });
  const result = h("div", { id: "diagnosis-result" });
  main.append(record, past, diagnosticInput(id, result, past, current), result);
  try {
    const data = await api("GET", `/api/patients/${encodeURIComponent(id)}`);
    if (!current()) return;
    record.replaceChildren(h("h2", {}, "Record"), patientFields(data.patient || {}));
    past.replaceChildren(...pastDiagnoses(data.diagnoses));
  } catch (err) {
    if (current()) {
      record.replaceChildren(h("p", { class: "muted" }, "The record could not be loaded."));
      showError(err.message);
    }
  }
}

function patientFields(p) {
  const list = (v) => (Array.isArray(v) && v.length ? v.join(", ") : undefined);
  const a = p.address || {};
  const ins = p.insurance || {};
  const ec = p.emergencyContact || {};
  return fieldList([
    ["Name", `${p.givenName ?? ""} ${p.familyName ?? ""}`.trim()],
    ["Date of birth", p.dateOfBirth],
    ["Sex", p.sex],
    ["National id", p.nationalId],
    ["Address", p.address ? [a.line, a.postalCode, a.city, a.country].filter(Boolean).join(", ") : undefined],
    ["Phone", p.phone],
    ["Email", p.email],
    ["Allergies", list(p.allergies)],
    ["Conditions", list(p.conditions)],
    ["Medications", list(p.medications)],
    ["Insurance", p.insurance ? `${ins.provider} (member ${ins.memberId})` : undefined],
    ["Emergency contact", p.emergencyContact ? `${ec.name}, ${ec.phone}` : undefined],
    ["Admitted", timeText(p.admittedAt)],
    ["Admitted by", p.admittedBy],
  ], { id: "patient-record" });
}

function pastDiagnoses(diagnoses) {
  const title = h("h2", {}, "Past diagnoses");
  if (!Array.isArray(diagnoses) || diagnoses.length === 0) return [title, h("p", { class: "muted", id: "past-diagnoses" }, "None yet.")];
  const body = h("tbody");
  for (const d of diagnoses) {
    body.append(h("tr", { "data-id": d.id }, h("td", {}, timeText(d.createdAt)), h("td", {}, d.label), h("td", {}, percent(d.probability)), h("td", { class: "mono" }, d.id)));
  }
  const head = h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Result"), h("th", {}, "Probability"), h("th", {}, "Diagnosis id")));
  return [title, h("table", { id: "past-diagnoses" }, head, body)];
}

function percent(p) {
  return typeof p === "number" ? `${(p * 100).toFixed(1)} %` : "?";
}

/**
 * The 30 model inputs from an uploaded file: a JSON array, `{"features": [...]}`,
 * or one CSV line. Throws with a message naming what is wrong.
 */
function parseDiagnosticInput(name, text) {
  const trimmed = text.trim();
  if (trimmed === "") throw new Error(`${name} is empty; it must hold ${FEATURE_COUNT} numbers.`);
  let values;
  if (/\.json$/i.test(name) || /^[[{]/.test(trimmed)) {
    let doc;
    try {
      doc = JSON.parse(trimmed);
    } catch (e) {
      throw new Error(`${name} is not valid JSON (${e.message}).`);
    }
    if (Array.isArray(doc)) values = doc;
    else if (doc && typeof doc === "object" && Array.isArray(doc.features)) values = doc.features;
    else throw new Error(`${name}: expected an array of ${FEATURE_COUNT} numbers or {"features": [...]}.`);
    values.forEach((v, i) => {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new Error(`${name}: value ${i + 1} (${JSON.stringify(v)}) is not a finite number.`);
      }
    });
  } else {
    const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() !== "");
    if (lines.length !== 1) throw new Error(`${name}: expected one line of ${FEATURE_COUNT} comma-separated numbers, found ${lines.length} lines.`);
    values = lines[0].split(",").map((cell, i) => {
      const c = cell.trim();
      const v = c === "" ? NaN : Number(c);
      if (!Number.isFinite(v)) throw new Error(`${name}: value ${i + 1} (${JSON.stringify(c.slice(0, 20))}) is not a finite number.`);
      return v;
    });
  }
  if (values.length !== FEATURE_COUNT) throw new Error(`${name}: expected ${FEATURE_COUNT} numbers, found ${values.length}.`);
  return values;
}

function diagnosticInput(patientId, resultBox, pastBox, current) {
  let features = null;
  const status = h("p", { id: "diagnostic-input-status", class: "muted" }, "Choose the diagnostic input: a .json file (30 numbers) or a .csv file (one line of 30 numbers).");
  const run = h("button", { id: "run-diagnosis", type: "button", disabled: true }, "Run diagnosis");
  const file = h("input", { id: "diagnostic-file", type: "file", accept: ".json,.csv,application/json,text/csv" });
  file.addEventListener("change", async () => {
    clearError();
    features = null;
    run.disabled = true;
    const f = file.files && file.files[0];
    if (!f) return;
    try {
      if (f.size > MAX_INPUT_BYTES) throw new Error(`${f.name} is ${f.size} bytes; a diagnostic input is at most ${MAX_INPUT_BYTES} bytes.`);
      features = parseDiagnosticInput(f.name, await f.text());
      status.textContent = `${FEATURE_COUNT} numbers read from ${f.name}; ready to run.`;
      run.disabled = false;
    } catch (err) {
      status.textContent = "No valid input loaded.";
      showError(err.message);
    }
  });
  run.addEventListener("click", async () => {
    if (!features) return;
    clearError();
    run.disabled = true;
    run.textContent = "Running…";
    resultBox.replaceChildren(h("p", { class: "muted" }, "The platform is asking the diagnostics service…"));
    try {
      const response = await api("POST", `/api/patients/${encodeURIComponent(patientId)}/diagnoses`, { features });
      if (!current()) return;
      await renderDiagnosis(resultBox, response);
      const data = await api("GET", `/api/patients/${encodeURIComponent(patientId)}`);
      if (current()) pastBox.replaceChildren(...pastDiagnoses(data.diagnoses));
    } catch (err) {
      if (current()) {
        resultBox.replaceChildren();
        showError(err.message);
      }
    } finally {
      run.disabled = false;
      run.textContent = "Run diagnosis";
    }
  });
  return h("section", { class: "card" }, h("h2", {}, "Diagnostic input"), h("div", { class: "actions" }, file, run), status);
}

async function renderDiagnosis(box, { diagnosis, chain, audit }) {
  if (!diagnosis || !chain || !audit) throw new Error("the platform's answer lacks the diagnosis, the token chain or the audit record");
  const { config, jwks } = await loadPolicy();
  const platform = await verifyToken(chain.platform_token, policyFor("platform", config, jwks, chain.nonce));
  const diagnostics = await verifyToken(chain.diagnostics_token, policyFor("diagnostics", config, jwks, null));
  const model = diagnosis.model || {};
  const receipt = h("div", { id: "receipt" });
  const fetchButton = h("button", { id: "fetch-receipt", type: "button", class: "secondary" }, "Fetch the receipt");
  fetchButton.addEventListener("click", () => showReceipt(audit.txid, receipt, fetchButton));
  const record = audit.record || {};
  box.replaceChildren(
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Diagnosis"),
      h("p", { id: "diagnosis-label", class: `result-label ${diagnosis.label}` }, diagnosis.label),
      fieldList([
        ["Probability of malignancy", percent(diagnosis.probability)],
        ["Diagnosis id", diagnosis.id],
        ["Model", `${model.name} ${model.version}`],
        ["Model SHA-256", model.sha256],
        ["Created", timeText(diagnosis.createdAt)],
      ], { id: "diagnosis-fields" }),
    ),
    h("h2", {}, "Chain of tokens"),
    h("p", { class: "muted" }, "Both tokens were verified in this browser. The platform presented its token to the diagnostics service for audience ", h("code", {}, chain.audience), ", bound to nonce ", h("code", {}, chain.nonce), "."),
    tokenCard("Platform token (Org2MSP → diagnostics)", chain.platform_token, platform, "chain-platform-checks", `Nonce must equal the chain nonce; measurement pinned for the platform.`),
    h("div", { class: "chain-arrow" }, "↓ presented to the diagnostics service, which answered with"),
    tokenCard("Diagnostics token (Org3MSP)", chain.diagnostics_token, diagnostics, "chain-diagnostics-checks", "Measurement pinned for the diagnostics service."),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Audit record on the channel"),
      fieldList([["txid", audit.txid], ["block", audit.block], ...Object.entries(record).map(([k, v]) => [k, timeText(v)])], { id: "audit-record" }),
      h("div", { class: "actions" }, fetchButton),
      receipt,
    ),
  );
}

async function showReceipt(txid, box, button) {
  clearError();
  button.disabled = true;
  try {
    const receipt = await api("GET", `/portal/receipt/${encodeURIComponent(txid)}`);
    if (state.receiptUrl) URL.revokeObjectURL(state.receiptUrl);
    const json = JSON.stringify(receipt, null, 2);
    state.receiptUrl = URL.createObjectURL(new Blob([json], { type: "application/json" }));
    box.replaceChildren(
      h("h3", {}, "Transaction receipt"),
      fieldList(receiptSummary(receipt), { id: "receipt-fields" }),
      h("p", {}, "verify offline: ", h("code", { id: "receipt-command" }, "cairn receipt verify receipt.json --ca <org CA>")),
      h("p", {}, h("a", { id: "receipt-download", href: state.receiptUrl, download: "receipt.json" }, "Download receipt.json")),
      h("details", {}, h("summary", {}, "Raw receipt JSON"), h("pre", { class: "break" }, json)),
    );
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

/** Scalar fields of the receipt and of its block header, long values shortened. */
function receiptSummary(receipt) {
  const scalar = (v) => ["string", "number", "boolean"].includes(typeof v);
  const short = (v) => (typeof v === "string" && v.length > 96 ? `${v.slice(0, 96)}… (${v.length} chars)` : v);
  const rows = [];
  for (const [k, v] of Object.entries(receipt)) {
    if (scalar(v)) rows.push([k, short(v)]);
    else if (Array.isArray(v)) rows.push([k, `${v.length} entr${v.length === 1 ? "y" : "ies"}`]);
  }
  for (const part of ["block", "header"]) {
    const obj = receipt[part];
    if (obj && typeof obj === "object" && !Array.isArray(obj)) {
      for (const [k, v] of Object.entries(obj)) if (scalar(v)) rows.push([`${part}.${k}`, short(v)]);
    }
  }
  return rows;
}

// ---- attestation panel -------------------------------------------------------

function setStatus(result) {
  const pill = byId("attestation-status");
  pill.className = `pill ${result.ok ? "pill-pass" : "pill-fail"}`;
  pill.textContent = `${result.ok ? "verified" : "FAILED"}${result.virtual ? " · virtual" : ""}`;
}

/** Gets a fresh nonce, the platform's token bound to it, and verifies it here. */
async function attestPlatform() {
  const { config, jwks } = await loadPolicy();
  const issued = await api("POST", "/portal/nonce");
  const { token } = await api("POST", "/api/attestation", { nonce: issued.nonce });
  const result = await verifyToken(token, policyFor("platform", config, jwks, issued.nonce));
  state.platformVirtual = result.virtual;
  setStatus(result);
  updateBanner();
  return { issued, token, result };
}

function renderAttestation(main, current) {
  const platformBox = h("div", { id: "attestation-result" }, h("p", { class: "muted" }, "Verifying…"));
  const again = h("button", { id: "verify-again", type: "button" }, "Verify again");
  const verify = async () => {
    clearError();
    again.disabled = true;
    platformBox.replaceChildren(h("p", { class: "muted" }, "Verifying…"));
    try {
      const { issued, token, result } = await attestPlatform();
      if (!current()) return;
      platformBox.replaceChildren(
        fieldList([["nonce", issued.nonce], ["nonce expires", timeText(issued.expires_at)], ["verified at", formatTime(Math.floor(Date.now() / 1000))]]),
        tokenCard("Platform token (Org2MSP)", token, result, "attestation-checks"),
      );
    } catch (err) {
      if (!current()) return;
      platformBox.replaceChildren(h("p", { class: "muted" }, "The platform's attestation could not be checked."));
      showError(err.message);
    } finally {
      again.disabled = false;
    }
  };
  again.addEventListener("click", verify);
  main.append(
    h("h1", {}, "Attestation"),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Medical platform"),
      h("p", { class: "muted" }, "A fresh nonce from the attestation service, the platform's token bound to it, checked here with WebCrypto against the JWKS and the pinned policy."),
      h("div", { class: "actions" }, again),
      platformBox,
    ),
    pasteBox(current),
  );
  verify();
}

function pasteBox(current) {
  const out = h("div", { id: "pasted-result" });
  const button = h("button", { id: "verify-token", type: "button" }, "Verify token");
  button.addEventListener("click", async () => {
    clearError();
    const token = byId("token-input").value.trim();
    const nonce = byId("token-nonce").value.trim();
    const role = byId("token-role").value;
    if (!token) {
      showError("Paste a token (a compact JWS) into the box first.");
      return;
    }
    button.disabled = true;
    try {
      const { config, jwks } = await loadPolicy();
      const result = await verifyToken(token, policyFor(role, config, jwks, nonce || null));
      if (!current()) return;
      state.shownVirtual = false;
      updateBanner();
      const title = role === "diagnostics" ? "Pasted token (diagnostics policy)" : "Pasted token (platform policy)";
      out.replaceChildren(tokenCard(title, token, result, "pasted-checks", decodeToken(token).problems.join("; ") || null));
    } catch (err) {
      if (current()) showError(err.message);
    } finally {
      button.disabled = false;
    }
  });
  return h(
    "section",
    { class: "card" },
    h("h2", {}, "Verify a token"),
    h(
      "div",
      { class: "grid" },
      h("label", {}, "Policy", h("select", { id: "token-role" }, h("option", { value: "platform" }, "medical platform"), h("option", { value: "diagnostics" }, "diagnostics service"))),
      h("label", {}, "Expected nonce (optional)", h("input", { id: "token-nonce", type: "text", autocomplete: "off" })),
    ),
    h("label", {}, "Token", h("textarea", { id: "token-input", rows: 5, spellcheck: "false", autocomplete: "off" })),
    h("div", { class: "actions" }, button),
    out,
  );
}

// ---- start -------------------------------------------------------------------

async function init() {
  try {
    const { config } = await loadPolicy();
    byId("org-name").textContent = config.hospital || "";
  } catch (err) {
    state.configError = `The pinned attestation policy could not be loaded (${err.message}). Attestation checks cannot run: make sure the portal server serves /portal/config.json and /portal/jwks.json, then reload.`;
  }
  // The panel attests by itself when it is the first screen.
  let startupError = "";
  if (state.config && !/^#\/attestation/.test(location.hash)) {
    try {
      await attestPlatform();
    } catch (err) {
      startupError = `The platform's attestation could not be checked: ${err.message}`;
    }
  }
  window.addEventListener("hashchange", route);
  route();
  if (startupError) showError(startupError);
  window.__portalReady = true;
}

init();
