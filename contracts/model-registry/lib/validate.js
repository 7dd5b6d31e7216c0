/*
 * Checks of the registry's inputs. Pure functions: each returns the parsed
 * value or throws an Error whose message names the argument, says what is
 * wrong with it and what is expected. They run before the contract reads or
 * writes any state, so a refused call leaves nothing behind.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

/** Longest model name or version, in characters (code points). */
const MAX_NAME_CHARS = 128;
/** Longest revocation reason, in characters (code points). */
const MAX_REASON_CHARS = 1024;
/** Largest signatureJson accepted, in UTF-16 code units (about bytes for ASCII). */
const MAX_SIGNATURE_CHARS = 65536;
/** Most inputs, and most outputs, one signature may list. */
const MAX_TENSORS = 256;
/** Highest tensor rank accepted. */
const MAX_RANK = 64;
/** Largest fixed dimension (ONNX runtimes index with 32- or 64-bit integers; 2^31 - 1 fits both). */
const MAX_DIMENSION = 2147483647;

/**
 * ONNX tensor element types (onnx.proto's TensorProto.DataType), lowercase,
 * as the ONNX specification names them. The inference service maps its
 * runtime's types to these names when it compares a model with its record.
 */
const DTYPES = [
    'bfloat16', 'bool', 'complex128', 'complex64', 'double', 'float', 'float16',
    'int16', 'int32', 'int64', 'int8', 'string', 'uint16', 'uint32', 'uint64', 'uint8',
];

const SIGNATURE_FORM = '{"inputs":[{"name":"x","dtype":"float","shape":[-1,30]}],"outputs":[{"name":"y","dtype":"int64","shape":[-1]}]}';

// What an error may quote of a caller's string: enough to recognize it,
// never a megabyte of it.
function quote(text, max = 80) {
    const chars = [...text];
    const shown = chars.length > max ? `${chars.slice(0, max).join('')}…` : text;
    return JSON.stringify(shown);
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

/**
 * A name-like string: present, not empty, at most `max` characters, no
 * control characters and no white space at either end (names that differ
 * only by a trailing space would look identical in every listing).
 */
function checkText(label, value, max) {
    if (typeof value !== 'string') {
        throw new Error(`${label} is missing; give it as a string`);
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
        throw new Error(`${label} ${quote(value)} contains a control character (U+${hex} at position ${control.position}); use printable characters only`);
    }
    if (value.includes('\u{10ffff}')) {
        // Composite keys end a prefix scan at U+10FFFF: a version starting
        // with it would be stored but missing from ListVersions.
        throw new Error(`${label} contains U+10FFFF, which ledger keys reserve; use printable characters only`);
    }
    if (value.trim() !== value) {
        throw new Error(`${label} ${quote(value)} starts or ends with white space; remove it`);
    }
    return value;
}

/** A model name. */
function checkName(name) {
    return checkText('model name', name, MAX_NAME_CHARS);
}

/** A model version. */
function checkVersion(version) {
    return checkText('model version', version, MAX_NAME_CHARS);
}

/** A revocation reason. */
function checkReason(reason) {
    return checkText('revocation reason', reason, MAX_REASON_CHARS);
}

/** A SHA-256 in 64 lowercase hexadecimal characters. */
function checkSha256(sha256) {
    if (typeof sha256 !== 'string') {
        throw new Error('sha256 is missing; give the SHA-256 of the model file as 64 lowercase hexadecimal characters');
    }
    if (/^[0-9a-f]{64}$/.test(sha256)) {
        return sha256;
    }
    if (/^[0-9a-fA-F]{64}$/.test(sha256)) {
        throw new Error(`sha256 ${quote(sha256)} has uppercase letters; write it in lowercase`);
    }
    throw new Error(`sha256 ${quote(sha256)} is not 64 lowercase hexadecimal characters (it has ${sha256.length}); give the SHA-256 of the model file as sha256sum prints it`);
}

function checkOnlyFields(label, object, allowed) {
    for (const key of Object.keys(object)) {
        if (!allowed.includes(key)) {
            const list = allowed.map((k) => `"${k}"`).join(', ');
            throw new Error(`${label} has an unknown field ${quote(key)}; only ${list} are allowed`);
        }
    }
}

function isPlainObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkShape(label, shape) {
    if (!Array.isArray(shape)) {
        throw new Error(`${label} must be an array of integers (-1 for a dynamic dimension), e.g. [-1,30]`);
    }
    if (shape.length > MAX_RANK) {
        throw new Error(`${label} has ${shape.length} dimensions; at most ${MAX_RANK} are allowed`);
    }
    shape.forEach((dim, i) => {
        const ok = typeof dim === 'number' && Number.isInteger(dim) && dim >= -1 && dim <= MAX_DIMENSION;
        if (!ok) {
            throw new Error(`${label}[${i}] is ${JSON.stringify(dim)}; each dimension is an integer from 0 to ${MAX_DIMENSION}, or -1 for a dynamic one`);
        }
    });
    return shape.slice();
}

function checkTensors(field, tensors) {
    const label = `signatureJson.${field}`;
    if (!Array.isArray(tensors)) {
        throw new Error(`${label} must be an array of {"name","dtype","shape"} objects`);
    }
    if (tensors.length === 0) {
        throw new Error(`${label} is empty; a model has at least one ${field === 'inputs' ? 'input' : 'output'}`);
    }
    if (tensors.length > MAX_TENSORS) {
        throw new Error(`${label} lists ${tensors.length} tensors; at most ${MAX_TENSORS} are allowed`);
    }
    const seen = new Map();
    return tensors.map((tensor, i) => {
        const at = `${label}[${i}]`;
        if (!isPlainObject(tensor)) {
            throw new Error(`${at} must be an object with "name", "dtype" and "shape"`);
        }
        checkOnlyFields(at, tensor, ['name', 'dtype', 'shape']);
        const name = checkText(`${at}.name`, tensor.name, MAX_NAME_CHARS);
        if (seen.has(name)) {
            throw new Error(`${at}.name ${quote(name)} repeats ${field}[${seen.get(name)}]; tensor names must be unique`);
        }
        seen.set(name, i);
        if (typeof tensor.dtype !== 'string' || !DTYPES.includes(tensor.dtype)) {
            const given = tensor.dtype === undefined ? 'is missing' : `${JSON.stringify(tensor.dtype)} is not an ONNX element type`;
            throw new Error(`${at}.dtype ${given}; use one of ${DTYPES.join(', ')}`);
        }
        const shape = checkShape(`${at}.shape`, tensor.shape);
        // A fresh object in a fixed form: nothing of the caller's object
        // (extra prototype, key order) reaches the ledger.
        return { name, dtype: tensor.dtype, shape };
    });
}

/**
 * The input/output signature, given as JSON text:
 * {"inputs":[{"name","dtype","shape"}],"outputs":[...]}. Unknown fields are
 * refused so that a misspelt field is not silently dropped.
 */
function parseSignature(signatureJson) {
    if (typeof signatureJson !== 'string') {
        throw new Error(`signatureJson is missing; give the model's inputs and outputs as JSON, e.g. ${SIGNATURE_FORM}`);
    }
    if (signatureJson.length > MAX_SIGNATURE_CHARS) {
        throw new Error(`signatureJson is ${signatureJson.length} characters long; at most ${MAX_SIGNATURE_CHARS} are allowed`);
    }
    let parsed;
    try {
        parsed = JSON.parse(signatureJson);
    } catch (err) {
        throw new Error(`signatureJson is not valid JSON (${err.message}); expected e.g. ${SIGNATURE_FORM}`);
    }
    if (!isPlainObject(parsed)) {
        throw new Error(`signatureJson must be a JSON object with "inputs" and "outputs", e.g. ${SIGNATURE_FORM}`);
    }
    checkOnlyFields('signatureJson', parsed, ['inputs', 'outputs']);
    return {
        inputs: checkTensors('inputs', parsed.inputs),
        outputs: checkTensors('outputs', parsed.outputs),
    };
}

module.exports = {
    DTYPES,
    MAX_NAME_CHARS,
    MAX_REASON_CHARS,
    checkName,
    checkReason,
    checkSha256,
    checkVersion,
    parseSignature,
};
