/*
 * Health records (Cairn issue 13): patients admitted by the hospital (Org1)
 * or the medical platform (Org2) and their diagnoses, kept in the private
 * data collection `hospitalPlatform` of those two orgs, plus one PUBLIC audit
 * record per diagnosis that any channel member (e.g. the diagnostics
 * provider, Org3) can read and the hospital can prove with a receipt.
 *
 * Written against fabric-contract-api; it runs unmodified on Fabric.
 *
 * Private state (collection hospitalPlatform; simple keys, parts joined by U+0000):
 *   patient\0<patientId>                               the patient record
 *   patientByFamily\0<family>\0<given>\0<patientId>     search index  } names lowercased;
 *   patientByGiven\0<given>\0<family>\0<patientId>      search index  } value {"dateOfBirth",
 *   patientByBirth\0<dateOfBirth>\0<family>\0<given>\0<patientId>     } "familyName","givenName","id"}
 *   diagnosis\0<diagnosisId>                           the diagnosis record
 *   patientDiagnosis\0<patientId>\0<diagnosisId>       {"createdAt","id","label","patientId","probability"}
 * Public state (world state):
 *   audit\0<diagnosisId>                               the audit record
 *
 * Invariants:
 * - private data arrives only through the transient map ("patient",
 *   "diagnosis", "query", "saltSeed") and is written only to
 *   hospitalPlatform; arguments carry only opaque ids;
 * - AdmitPatient writes no public state; RecordDiagnosis writes exactly one
 *   public key, audit\0<diagnosisId>, whose value has exactly the fields of
 *   AUDIT_FIELDS (no patient id, name, feature or result); its event carries
 *   that same record; no write transaction returns private data (responses
 *   go into blocks);
 * - every private key and value holds a patient id (128 random bits), so the
 *   key and value hashes that every channel member sees on the ledger cannot
 *   be matched against guessed names or dates;
 * - a patient or diagnosis id, once used, is never reused or changed;
 * - the audit hashes are SHA-256 over the 32-byte salt followed by the data,
 *   and the salt is stored in the private record, so a member recomputes them
 *   (VerifyAudit) and nobody else can test a guess against them unless the
 *   salt is derivable: see saltFor();
 * - every value written depends only on the proposal and the state read
 *   (time is the transaction's timestamp), so every endorser writes the same bytes;
 * - a refused call throws before its first write, so it writes nothing.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const crypto = require('crypto');
const { Contract } = require('fabric-contract-api');
const { canonicalJson } = require('./canonical');
const {
    MAX_DIAGNOSIS_BYTES, MAX_PATIENT_BYTES, MAX_QUERY_BYTES,
    checkDiagnosisId, checkPatientId, parseDiagnosis, parseIntake, parseQuery, transientJson,
} = require('./validate');

const COLLECTION = 'hospitalPlatform';
const SEP = '\u0000';
/** Exclusive end of a prefix range: every key part is free of U+10FFFF. */
const END = '\u{10ffff}';
/** Most patients FindPatients answers. */
const MAX_FOUND = 50;
/** Domain separation of the salt derivation. */
const SALT_DOMAIN = 'cairn/health/salt';
/** Bounds of the optional transient "saltSeed", in bytes. */
const MIN_SEED_BYTES = 16;
const MAX_SEED_BYTES = 1024;

/** The public audit record's fields, sorted: nothing else is ever public. */
const AUDIT_FIELDS = [
    'diagnosisId', 'diagnosticsMeasurement', 'diagnosticsTokenJti', 'inferenceReceiptSha256',
    'inputSha256', 'modelName', 'modelSha256', 'modelVersion', 'platformMeasurement',
    'platformTokenJti', 'recordIdSha256', 'recordedAt', 'recordedBy', 'resultSha256',
];

const PATIENT_EXAMPLE = '{"givenName":"Ada","familyName":"Byron","dateOfBirth":"1815-12-10"}';
const DIAGNOSIS_EXAMPLE = '{"patientId":"pt_…","features":[…],"result":{…},"model":{…},"platform":{…},"diagnostics":{…},"inferenceReceiptSha256":"…"}';
const QUERY_EXAMPLE = '{"familyName":"byr"}';

const patientKey = (id) => `patient${SEP}${id}`;
const diagnosisKey = (id) => `diagnosis${SEP}${id}`;
const patientDiagnosisPrefix = (patientId) => `patientDiagnosis${SEP}${patientId}${SEP}`;
const auditKey = (id) => `audit${SEP}${id}`;
const lower = (name) => name.toLowerCase();

/** The three index keys of a patient (names lowercased: lookups ignore case). */
function indexKeys(p) {
    const [family, given] = [lower(p.familyName), lower(p.givenName)];
    return [
        `patientByFamily${SEP}${family}${SEP}${given}${SEP}${p.id}`,
        `patientByGiven${SEP}${given}${SEP}${family}${SEP}${p.id}`,
        `patientByBirth${SEP}${p.dateOfBirth}${SEP}${family}${SEP}${given}${SEP}${p.id}`,
    ];
}

function sha256Hex(...parts) {
    const hash = crypto.createHash('sha256');
    for (const part of parts) hash.update(part);
    return hash.digest('hex');
}

/** The three salted hashes of a diagnosis (see the module doc and docs/contracts.md). */
function auditHashes(salt, patientId, diagnosisId, features, result) {
    return {
        inputSha256: sha256Hex(salt, canonicalJson(features)),
        recordIdSha256: sha256Hex(salt, patientId, SEP, diagnosisId),
        resultSha256: sha256Hex(salt, canonicalJson(result)),
    };
}

/** Orders like the store: by UTF-8 bytes (code points), not UTF-16 units. */
function byUtf8(a, b) {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

class HealthRecords extends Contract {

    // AdmitPatient stores a new patient from transient "patient" under an id the platform drew.
    async AdmitPatient(ctx, patientId) {
        this._arity(ctx, 'AdmitPatient', ['patientId']);
        checkPatientId(patientId);
        const today = ctx.stub.getDateTimestamp().toISOString().slice(0, 10);
        const intake = parseIntake(transientJson(ctx, 'patient', MAX_PATIENT_BYTES, PATIENT_EXAMPLE), today);
        if (await this._readPrivate(ctx, patientKey(patientId))) {
            throw new Error(`patient ${patientId} already exists; draw a new id (128 random bits) for a new patient`);
        }
        const record = {
            ...intake,
            admittedAt: ctx.stub.getDateTimestamp().toISOString(),
            admittedBy: ctx.clientIdentity.getMSPID(),
            id: patientId,
        };
        const summary = canonicalJson({
            dateOfBirth: record.dateOfBirth,
            familyName: record.familyName,
            givenName: record.givenName,
            id: patientId,
        });
        await this._writePrivate(ctx, patientKey(patientId), canonicalJson(record));
        for (const key of indexKeys(record)) {
            await this._writePrivate(ctx, key, summary);
        }
        return canonicalJson({ id: patientId });
    }

    // GetPatient returns a patient's record (members of hospitalPlatform only).
    async GetPatient(ctx, patientId) {
        this._arity(ctx, 'GetPatient', ['patientId']);
        checkPatientId(patientId);
        const data = await this._readPrivate(ctx, patientKey(patientId));
        if (!data) {
            throw new Error(`patient ${patientId} not found`);
        }
        return data;
    }

    // FindPatients looks patients up by transient "query": name prefixes (any case) and an exact date of birth.
    async FindPatients(ctx) {
        this._arity(ctx, 'FindPatients', []);
        const q = parseQuery(transientJson(ctx, 'query', MAX_QUERY_BYTES, QUERY_EXAMPLE));
        // The family and birth indexes are in answer order (family, given,
        // id), so their scan stops at MAX_FOUND; the given-name index is not,
        // so its matches are all collected and sorted.
        let prefix;
        let ordered = true;
        if (q.familyName !== undefined) {
            prefix = `patientByFamily${SEP}${lower(q.familyName)}`;
        } else if (q.dateOfBirth !== undefined) {
            prefix = `patientByBirth${SEP}${q.dateOfBirth}${SEP}`;
        } else {
            prefix = `patientByGiven${SEP}${lower(q.givenName)}`;
            ordered = false;
        }
        const found = [];
        const iterator = await ctx.stub.getPrivateDataByRange(COLLECTION, prefix, prefix + END);
        for (let res = await iterator.next(); !res.done; res = await iterator.next()) {
            const s = JSON.parse(res.value.value.toString('utf8'));
            if (this._matches(q, s)) {
                found.push(s);
                if (ordered && found.length === MAX_FOUND) break;
            }
        }
        await iterator.close();
        if (!ordered) {
            const sortKey = (s) => `${lower(s.familyName)}${SEP}${lower(s.givenName)}${SEP}${s.id}`;
            found.sort((a, b) => byUtf8(sortKey(a), sortKey(b)));
        }
        return canonicalJson({ patients: found.slice(0, MAX_FOUND) });
    }

    // RecordDiagnosis stores transient "diagnosis" privately and its salted audit record publicly.
    async RecordDiagnosis(ctx, diagnosisId) {
        this._arity(ctx, 'RecordDiagnosis', ['diagnosisId']);
        checkDiagnosisId(diagnosisId);
        const d = parseDiagnosis(transientJson(ctx, 'diagnosis', MAX_DIAGNOSIS_BYTES, DIAGNOSIS_EXAMPLE));
        const seed = this._saltSeed(ctx);
        if (!(await this._readPrivate(ctx, patientKey(d.patientId)))) {
            throw new Error(`patient ${d.patientId} not found; admit the patient before recording a diagnosis`);
        }
        if (await this._readPrivate(ctx, diagnosisKey(diagnosisId))
            || await this._readPublic(ctx, auditKey(diagnosisId))) {
            throw new Error(`diagnosis ${diagnosisId} already exists; draw a new id (128 random bits) for a new diagnosis`);
        }
        const salt = this._saltFor(ctx, diagnosisId, seed);
        const hashes = auditHashes(salt, d.patientId, diagnosisId, d.features, d.result);
        const createdAt = ctx.stub.getDateTimestamp().toISOString();
        const record = {
            ...d,
            ...hashes,
            createdAt,
            createdBy: ctx.clientIdentity.getMSPID(),
            id: diagnosisId,
            salt: salt.toString('hex'),
        };
        const audit = {
            diagnosisId,
            diagnosticsMeasurement: d.diagnostics.measurement,
            diagnosticsTokenJti: d.diagnostics.tokenJti,
            inferenceReceiptSha256: d.inferenceReceiptSha256,
            inputSha256: hashes.inputSha256,
            modelName: d.model.name,
            modelSha256: d.model.sha256,
            modelVersion: d.model.version,
            platformMeasurement: d.platform.measurement,
            platformTokenJti: d.platform.tokenJti,
            recordIdSha256: hashes.recordIdSha256,
            recordedAt: createdAt,
            recordedBy: ctx.clientIdentity.getMSPID(),
            resultSha256: hashes.resultSha256,
        };
        const auditText = canonicalJson(audit);
        await this._writePrivate(ctx, diagnosisKey(diagnosisId), canonicalJson(record));
        await this._writePrivate(ctx, patientDiagnosisPrefix(d.patientId) + diagnosisId, canonicalJson({
            createdAt,
            id: diagnosisId,
            label: d.result.label,
            patientId: d.patientId,
            probability: d.result.probability,
        }));
        await ctx.stub.putState(auditKey(diagnosisId), Buffer.from(auditText));
        ctx.stub.setEvent('DiagnosisRecorded', Buffer.from(auditText));
        return canonicalJson({ audit, id: diagnosisId });
    }

    // GetDiagnosis returns a diagnosis's private record (members of hospitalPlatform only).
    async GetDiagnosis(ctx, diagnosisId) {
        this._arity(ctx, 'GetDiagnosis', ['diagnosisId']);
        checkDiagnosisId(diagnosisId);
        const data = await this._readPrivate(ctx, diagnosisKey(diagnosisId));
        if (!data) {
            throw new Error(`diagnosis ${diagnosisId} not found`);
        }
        return data;
    }

    // ListDiagnoses lists a patient's diagnoses, oldest first.
    async ListDiagnoses(ctx, patientId) {
        this._arity(ctx, 'ListDiagnoses', ['patientId']);
        checkPatientId(patientId);
        if (!(await this._readPrivate(ctx, patientKey(patientId)))) {
            throw new Error(`patient ${patientId} not found`);
        }
        const prefix = patientDiagnosisPrefix(patientId);
        const rows = [];
        const iterator = await ctx.stub.getPrivateDataByRange(COLLECTION, prefix, prefix + END);
        for (let res = await iterator.next(); !res.done; res = await iterator.next()) {
            const s = JSON.parse(res.value.value.toString('utf8'));
            rows.push({ createdAt: s.createdAt, id: s.id, label: s.label, probability: s.probability });
        }
        await iterator.close();
        // createdAt is ISO 8601 with milliseconds, UTC: its text order is time order.
        rows.sort((a, b) => byUtf8(a.createdAt, b.createdAt) || byUtf8(a.id, b.id));
        return canonicalJson({ diagnoses: rows });
    }

    // GetAudit returns a diagnosis's public audit record (any channel member).
    async GetAudit(ctx, diagnosisId) {
        this._arity(ctx, 'GetAudit', ['diagnosisId']);
        checkDiagnosisId(diagnosisId);
        const data = await this._readPublic(ctx, auditKey(diagnosisId));
        if (!data) {
            throw new Error(`diagnosis ${diagnosisId} has no audit record on this channel`);
        }
        return data;
    }

    // VerifyAudit recomputes the audit record from the private record and names the fields that differ.
    async VerifyAudit(ctx, diagnosisId) {
        this._arity(ctx, 'VerifyAudit', ['diagnosisId']);
        checkDiagnosisId(diagnosisId);
        const recordText = await this._readPrivate(ctx, diagnosisKey(diagnosisId));
        if (!recordText) {
            throw new Error(`diagnosis ${diagnosisId} not found`);
        }
        const auditText = await this._readPublic(ctx, auditKey(diagnosisId));
        if (!auditText) {
            throw new Error(`diagnosis ${diagnosisId} has no audit record on this channel`);
        }
        const audit = JSON.parse(auditText);
        // The private record is what members hold, possibly altered: a
        // record that is not a JSON object verifies nothing.
        let r;
        try {
            r = JSON.parse(recordText);
        } catch (err) {
            r = null;
        }
        if (r === null || typeof r !== 'object' || Array.isArray(r)) {
            r = {};
        }
        const expected = {
            diagnosisId: r.id,
            diagnosticsMeasurement: r.diagnostics && r.diagnostics.measurement,
            diagnosticsTokenJti: r.diagnostics && r.diagnostics.tokenJti,
            inferenceReceiptSha256: r.inferenceReceiptSha256,
            modelName: r.model && r.model.name,
            modelSha256: r.model && r.model.sha256,
            modelVersion: r.model && r.model.version,
            platformMeasurement: r.platform && r.platform.measurement,
            platformTokenJti: r.platform && r.platform.tokenJti,
            recordedAt: r.createdAt,
            recordedBy: r.createdBy,
        };
        const mismatches = [];
        if (typeof r.salt === 'string' && /^[0-9a-f]{64}$/.test(r.salt)) {
            const salt = Buffer.from(r.salt, 'hex');
            // A field missing from an altered record leaves its hash unset,
            // which counts as a mismatch below.
            const text = (v) => (typeof v === 'string' ? v : undefined);
            const canonical = (v) => (v === undefined ? undefined : canonicalJson(v));
            const [patientId, id] = [text(r.patientId), text(r.id)];
            if (patientId !== undefined && id !== undefined) {
                expected.recordIdSha256 = sha256Hex(salt, patientId, SEP, id);
            }
            const [features, result] = [canonical(r.features), canonical(r.result)];
            if (features !== undefined) expected.inputSha256 = sha256Hex(salt, features);
            if (result !== undefined) expected.resultSha256 = sha256Hex(salt, result);
        } else {
            // Without its salt nothing can be recomputed: every hash counts as differing.
            mismatches.push('salt');
        }
        for (const field of AUDIT_FIELDS) {
            if (expected[field] === undefined || expected[field] !== audit[field]) {
                mismatches.push(field);
            }
        }
        for (const field of Object.keys(audit)) {
            if (!AUDIT_FIELDS.includes(field)) mismatches.push(field);
        }
        mismatches.sort();
        return canonicalJson({ mismatches, ok: mismatches.length === 0 });
    }

    /**
     * The salt: SHA-256("cairn/health/salt" || txid || diagnosisId || saltSeed),
     * 32 bytes. Every endorser derives the same one (a contract has no
     * entropy of its own). txid and diagnosisId are public, so without a
     * saltSeed (random bytes the client passes as transient data) anyone on
     * the channel can derive the salt and test guesses of a features or
     * result value against the audit hashes; with one, only the members that
     * hold the private record (where the salt is stored) can.
     */
    _saltFor(ctx, diagnosisId, seed) {
        const hash = crypto.createHash('sha256');
        hash.update(SALT_DOMAIN);
        hash.update(ctx.stub.getTxID());
        hash.update(diagnosisId);
        hash.update(seed);
        return hash.digest();
    }

    _saltSeed(ctx) {
        const seed = ctx.stub.getTransient().get('saltSeed');
        if (!seed || seed.length === 0) {
            return Buffer.alloc(0);
        }
        if (seed.length < MIN_SEED_BYTES || seed.length > MAX_SEED_BYTES) {
            throw new Error(`transient "saltSeed" is ${seed.length} bytes; give ${MIN_SEED_BYTES} to ${MAX_SEED_BYTES} random bytes (32 is right)`);
        }
        return seed;
    }

    _matches(q, s) {
        return (q.familyName === undefined || lower(s.familyName).startsWith(lower(q.familyName)))
            && (q.givenName === undefined || lower(s.givenName).startsWith(lower(q.givenName)))
            && (q.dateOfBirth === undefined || s.dateOfBirth === q.dateOfBirth);
    }

    // Fabric passes missing arguments as undefined and drops extra ones;
    // a call with the wrong count is refused instead, naming the parameters.
    _arity(ctx, fn, names) {
        const { params } = ctx.stub.getFunctionAndParameters();
        if (params.length !== names.length) {
            const list = names.length === 0 ? 'no arguments; private inputs go in the transient map' : `${names.length} argument${names.length === 1 ? '' : 's'} (${names.join(', ')})`;
            throw new Error(`${fn} takes ${list}; got ${params.length}`);
        }
    }

    async _readPrivate(ctx, key) {
        const data = await ctx.stub.getPrivateData(COLLECTION, key);
        return data && data.length > 0 ? data.toString('utf8') : null;
    }

    async _readPublic(ctx, key) {
        const data = await ctx.stub.getState(key);
        return data && data.length > 0 ? data.toString('utf8') : null;
    }

    async _writePrivate(ctx, key, text) {
        await ctx.stub.putPrivateData(COLLECTION, key, Buffer.from(text));
    }
}

module.exports = HealthRecords;
