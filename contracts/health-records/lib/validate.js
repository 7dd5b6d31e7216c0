/*
 * Checks of the health records contract's inputs. Pure functions: each
 * returns a fresh, normalized value or throws an Error whose message names
 * the field (as a path from the transient key, e.g. `patient.address.city`),
 * says which rule it breaks and what to send instead. They run before the
 * contract writes anything, so a refused call leaves nothing behind.
 *
 * Error messages quote a caller's value only where it is not private (ids,
 * hashes, field names); a bad name, national id or diagnosis value is never
 * echoed, because error messages reach logs and clients that need not see it.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

/** Patient ids: "pt_" and 22 base64url characters (128 random bits, made by the platform). */
const PATIENT_ID = /^pt_[A-Za-z0-9_-]{22}$/;
/** Diagnosis ids: "dx_" and 22 base64url characters. */
const DIAGNOSIS_ID = /^dx_[A-Za-z0-9_-]{22}$/;

/** Largest transient `patient` value, in bytes. */
const MAX_PATIENT_BYTES = 64 * 1024;
/** Largest transient `diagnosis` value, in bytes. */
const MAX_DIAGNOSIS_BYTES = 1024 * 1024;
/** Largest transient `query` value, in bytes. */
const MAX_QUERY_BYTES = 4096;
/** Most items in allergies, conditions or medications. */
const MAX_LIST_ITEMS = 100;
/** Most model input features. */
const MAX_FEATURES = 65536;
/** Most output tensors, and most numbers in one. */
const MAX_OUTPUTS = 64;
const MAX_OUTPUT_VALUES = 65536;

const SEXES = ['female', 'male', 'other', 'unknown'];

const INTAKE_FIELDS = [
    'address', 'allergies', 'conditions', 'dateOfBirth', 'email', 'emergencyContact',
    'familyName', 'givenName', 'insurance', 'medications', 'nationalId', 'phone', 'sex',
];

function quote(text, max = 80) {
    const chars = [...text];
    const shown = chars.length > max ? `${chars.slice(0, max).join('')}…` : text;
    return JSON.stringify(shown);
}

function isPlainObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function controlCharacter(text) {
    let position = 0;
    for (const ch of text) {
        const code = ch.codePointAt(0);
        if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
            return { code, position };
        }
        position += 1;
    }
    return null;
}

function describe(value) {
    if (value === null) return 'null';
    if (Array.isArray(value)) return 'an array';
    if (typeof value === 'object') return 'an object';
    return `a ${typeof value}`;
}

/**
 * A text field: a string of 1 to `max` characters (code points) without
 * control characters. With `trimmed`, no white space at either end and no
 * U+10FFFF either (name fields are index keys: a trailing space would make
 * two names that look alike, and U+10FFFF ends the index's prefix ranges).
 */
function checkText(label, value, max, trimmed = false) {
    if (value === undefined) {
        throw new Error(`${label} is missing; give it as a string`);
    }
    if (typeof value !== 'string') {
        throw new Error(`${label} must be a string, not ${describe(value)}`);
    }
    if (value.length === 0) {
        throw new Error(`${label} must not be empty`);
    }
    const chars = [...value].length;
    if (chars > max) {
        throw new Error(`${label} is ${chars} characters long; at most ${max} are allowed`);
    }
    const control = controlCharacter(value);
    if (control) {
        const hex = control.code.toString(16).toUpperCase().padStart(4, '0');
        throw new Error(`${label} contains a control character (U+${hex} at position ${control.position}); use printable characters only`);
    }
    if (trimmed) {
        if (value.includes('\u{10ffff}')) {
            throw new Error(`${label} contains U+10FFFF, which the contract's search index reserves; use printable characters only`);
        }
        if (value.trim() !== value) {
            throw new Error(`${label} starts or ends with white space; remove it`);
        }
    }
    return value;
}

function checkOnlyFields(label, object, allowed) {
    for (const key of Object.keys(object)) {
        if (!allowed.includes(key)) {
            const list = allowed.map((k) => `"${k}"`).join(', ');
            throw new Error(`${label} has an unknown field ${quote(key)}; only ${list} are allowed`);
        }
    }
}

function checkObject(label, value, allowed) {
    if (!isPlainObject(value)) {
        throw new Error(`${label} must be a JSON object with ${allowed.map((k) => `"${k}"`).join(', ')}, not ${describe(value)}`);
    }
    checkOnlyFields(label, value, allowed);
    return value;
}

/** Optional fields given as null or "" count as absent (forms send empty inputs). */
function absent(value) {
    return value === undefined || value === null || value === '';
}

function checkId(label, value, pattern, prefix) {
    if (typeof value !== 'string') {
        throw new Error(`${label} is missing; give it as a string`);
    }
    if (!pattern.test(value)) {
        // Not quoted: a caller that mixed up fields may have sent a national id.
        throw new Error(`${label} is not a valid id: expected "${prefix}_" followed by 22 base64url characters (A-Z a-z 0-9 _ -), 128 random bits; got ${[...value].length} characters`);
    }
    return value;
}

/** A patient id. */
function checkPatientId(value, label = 'patientId') {
    return checkId(label, value, PATIENT_ID, 'pt');
}

/** A diagnosis id. */
function checkDiagnosisId(value, label = 'diagnosisId') {
    return checkId(label, value, DIAGNOSIS_ID, 'dx');
}

function checkHex64(label, value) {
    if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
        const got = typeof value === 'string' ? `${quote(value)}` : describe(value);
        throw new Error(`${label} must be a SHA-256 in 64 lowercase hexadecimal characters; got ${got}`);
    }
    return value;
}

/** A measurement: lowercase hex of a whole number of bytes, 1 to 128 bytes. */
function checkMeasurement(label, value) {
    if (typeof value !== 'string' || !/^(?:[0-9a-f]{2}){1,128}$/.test(value)) {
        const got = typeof value === 'string' ? `${quote(value)}` : describe(value);
        throw new Error(`${label} must be the attested measurement in lowercase hexadecimal (2 to 256 characters, an even number); got ${got}`);
    }
    return value;
}

/** A token id (jti): 1 to 128 printable ASCII characters without spaces. */
function checkJti(label, value) {
    if (typeof value !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(value)) {
        const got = typeof value === 'string' ? `${quote(value)}` : describe(value);
        throw new Error(`${label} must be the attestation token's jti: 1 to 128 printable ASCII characters without spaces; got ${got}`);
    }
    return value;
}

function checkNumber(label, value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new Error(`${label} must be a finite number, not ${describe(value)}`);
    }
    return value;
}

function checkNumbers(label, value, max, nonEmpty) {
    if (!Array.isArray(value)) {
        throw new Error(`${label} must be an array of numbers, not ${describe(value)}`);
    }
    if (nonEmpty && value.length === 0) {
        throw new Error(`${label} must not be empty`);
    }
    if (value.length > max) {
        throw new Error(`${label} has ${value.length} numbers; at most ${max} are allowed`);
    }
    return value.map((n, i) => checkNumber(`${label}[${i}]`, n));
}

const DATE_FORM = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date YYYY-MM-DD (proleptic Gregorian) not after `today` (YYYY-MM-DD, UTC). */
function checkDateOfBirth(label, value, today) {
    if (typeof value !== 'string') {
        throw new Error(`${label} is missing; give it as YYYY-MM-DD`);
    }
    const m = DATE_FORM.exec(value);
    if (!m) {
        throw new Error(`${label} must be a date written YYYY-MM-DD (e.g. 1984-02-29)`);
    }
    const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if (month < 1 || month > 12 || day < 1 || day > days[month - 1]) {
        throw new Error(`${label} ${value} is not a real calendar date`);
    }
    if (value > today) {
        throw new Error(`${label} ${value} is after the transaction's date ${today}; a date of birth cannot be in the future`);
    }
    return value;
}

function checkPhone(label, value) {
    checkText(label, value, 32);
    if (!/^[0-9+() .-]+$/.test(value) || !/[0-9]/.test(value)) {
        throw new Error(`${label} must hold digits, optionally with +, spaces, parentheses, dots and dashes (at most 32 characters)`);
    }
    return value;
}

function checkEmail(label, value) {
    checkText(label, value, 254);
    if (!/^[^\s@]+@[^\s@]+$/.test(value)) {
        throw new Error(`${label} must be an email address (name@domain, no spaces)`);
    }
    return value;
}

function checkTextList(label, value) {
    if (!Array.isArray(value)) {
        throw new Error(`${label} must be an array of strings, not ${describe(value)}`);
    }
    if (value.length > MAX_LIST_ITEMS) {
        throw new Error(`${label} has ${value.length} items; at most ${MAX_LIST_ITEMS} are allowed`);
    }
    return value.map((item, i) => checkText(`${label}[${i}]`, item, 200));
}

/**
 * An optional object of optional text fields: `spec` maps each allowed
 * field to its check. Absent sub-fields are dropped; an object left empty
 * counts as absent (returns undefined).
 */
function optionalGroup(label, value, spec) {
    if (absent(value)) return undefined;
    checkObject(label, value, Object.keys(spec));
    const out = {};
    for (const [field, check] of Object.entries(spec)) {
        if (!absent(value[field])) {
            out[field] = check(`${label}.${field}`, value[field]);
        }
    }
    return Object.keys(out).length === 0 ? undefined : out;
}

const text = (max) => (label, value) => checkText(label, value, max);

/** Parses a transient value as a JSON object, with a size limit. */
function transientJson(ctx, key, maxBytes, example) {
    const raw = ctx.stub.getTransient().get(key);
    if (!raw || raw.length === 0) {
        throw new Error(`pass the ${key} as transient data "${key}" (a JSON object, e.g. ${example}); private data never goes in the arguments`);
    }
    if (raw.length > maxBytes) {
        throw new Error(`transient "${key}" is ${raw.length} bytes; at most ${maxBytes} are allowed`);
    }
    let parsed;
    try {
        parsed = JSON.parse(raw.toString('utf8'));
    } catch (err) {
        throw new Error(`transient "${key}" is not valid JSON (${err.message}); send a JSON object, e.g. ${example}`);
    }
    if (!isPlainObject(parsed)) {
        throw new Error(`transient "${key}" must be a JSON object, not ${describe(parsed)}; e.g. ${example}`);
    }
    return parsed;
}

/**
 * The intake form (transient "patient"), normalized: required givenName,
 * familyName, dateOfBirth; optional fields dropped when absent, null or "".
 * `today` is the transaction's date (YYYY-MM-DD, UTC).
 */
function parseIntake(input, today) {
    const p = 'patient';
    checkOnlyFields(p, input, INTAKE_FIELDS);
    for (const field of ['givenName', 'familyName', 'dateOfBirth']) {
        if (absent(input[field])) {
            throw new Error(`${p}.${field} is missing; it is required`);
        }
    }
    const out = {
        dateOfBirth: checkDateOfBirth(`${p}.dateOfBirth`, input.dateOfBirth, today),
        familyName: checkText(`${p}.familyName`, input.familyName, 100, true),
        givenName: checkText(`${p}.givenName`, input.givenName, 100, true),
    };
    if (!absent(input.sex)) {
        if (!SEXES.includes(input.sex)) {
            throw new Error(`${p}.sex must be one of ${SEXES.map((s) => `"${s}"`).join(', ')}`);
        }
        out.sex = input.sex;
    }
    if (!absent(input.nationalId)) {
        out.nationalId = checkText(`${p}.nationalId`, input.nationalId, 32);
    }
    if (!absent(input.phone)) out.phone = checkPhone(`${p}.phone`, input.phone);
    if (!absent(input.email)) out.email = checkEmail(`${p}.email`, input.email);
    for (const list of ['allergies', 'conditions', 'medications']) {
        if (input[list] !== undefined && input[list] !== null) {
            out[list] = checkTextList(`${p}.${list}`, input[list]);
        }
    }
    const groups = {
        address: { line: text(200), city: text(100), postalCode: text(20), country: text(100) },
        insurance: { provider: text(100), memberId: text(64) },
        emergencyContact: { name: text(100), phone: checkPhone },
    };
    for (const [field, spec] of Object.entries(groups)) {
        const group = optionalGroup(`${p}.${field}`, input[field], spec);
        if (group !== undefined) out[field] = group;
    }
    return out;
}

/** The lookup (transient "query"): at least one of familyName, givenName (prefixes), dateOfBirth (exact). */
function parseQuery(input) {
    const q = 'query';
    checkOnlyFields(q, input, ['dateOfBirth', 'familyName', 'givenName']);
    const out = {};
    if (!absent(input.familyName)) out.familyName = checkText(`${q}.familyName`, input.familyName, 100);
    if (!absent(input.givenName)) out.givenName = checkText(`${q}.givenName`, input.givenName, 100);
    if (!absent(input.dateOfBirth)) {
        // The search date needs no "not in the future" rule: it only matches.
        out.dateOfBirth = checkDateOfBirth(`${q}.dateOfBirth`, input.dateOfBirth, '9999-12-31');
    }
    if (Object.keys(out).length === 0) {
        throw new Error(`${q} needs at least one of "familyName", "givenName" (prefixes, any case) or "dateOfBirth" (YYYY-MM-DD)`);
    }
    return out;
}

function parseAttestation(label, value) {
    checkObject(label, value, ['measurement', 'tokenJti']);
    return {
        measurement: checkMeasurement(`${label}.measurement`, value.measurement),
        tokenJti: checkJti(`${label}.tokenJti`, value.tokenJti),
    };
}

/** The diagnosis (transient "diagnosis"), normalized; every field is required. */
function parseDiagnosis(input) {
    const d = 'diagnosis';
    const fields = ['diagnostics', 'features', 'inferenceReceiptSha256', 'model', 'patientId', 'platform', 'result'];
    checkOnlyFields(d, input, fields);
    for (const field of fields) {
        if (input[field] === undefined || input[field] === null) {
            throw new Error(`${d}.${field} is missing; it is required`);
        }
    }
    const patientId = checkPatientId(input.patientId, `${d}.patientId`);
    const features = checkNumbers(`${d}.features`, input.features, MAX_FEATURES, true);

    const r = `${d}.result`;
    checkObject(r, input.result, ['label', 'outputs', 'probability']);
    const label = checkText(`${r}.label`, input.result.label, 100);
    const probability = checkNumber(`${r}.probability`, input.result.probability);
    if (probability < 0 || probability > 1) {
        throw new Error(`${r}.probability must be between 0 and 1`);
    }
    const outputs = input.result.outputs;
    if (!Array.isArray(outputs) || outputs.length === 0 || outputs.length > MAX_OUTPUTS) {
        throw new Error(`${r}.outputs must be an array of 1 to ${MAX_OUTPUTS} arrays of numbers, one per model output`);
    }
    const result = {
        label,
        outputs: outputs.map((o, i) => checkNumbers(`${r}.outputs[${i}]`, o, MAX_OUTPUT_VALUES, false)),
        probability,
    };

    const m = `${d}.model`;
    checkObject(m, input.model, ['name', 'sha256', 'version']);
    const model = {
        name: checkText(`${m}.name`, input.model.name, 128, true),
        sha256: checkHex64(`${m}.sha256`, input.model.sha256),
        version: checkText(`${m}.version`, input.model.version, 128, true),
    };
    return {
        diagnostics: parseAttestation(`${d}.diagnostics`, input.diagnostics),
        features,
        inferenceReceiptSha256: checkHex64(`${d}.inferenceReceiptSha256`, input.inferenceReceiptSha256),
        model,
        patientId,
        platform: parseAttestation(`${d}.platform`, input.platform),
        result,
    };
}

module.exports = {
    MAX_DIAGNOSIS_BYTES,
    MAX_PATIENT_BYTES,
    MAX_QUERY_BYTES,
    checkDiagnosisId,
    checkPatientId,
    parseDiagnosis,
    parseIntake,
    parseQuery,
    transientJson,
};
