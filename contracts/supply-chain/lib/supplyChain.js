/*
 * The supply-chain scenario (Cairn issue 18): five orgs follow a product
 * through its life. A supplier creates batches of raw material, a
 * manufacturer produces units from batches it holds, shipments hand items
 * (batches or units) from one org to another — a carrier, a warehouse, a
 * retailer — and the retailer sells the unit.
 *
 * Written against fabric-contract-api and fabric-shim; it runs unmodified on
 * Fabric 2.x (state-based endorsement through KeyEndorsementPolicy).
 *
 * Roles. SetParticipants names, once, the MSP id of each role: supplier,
 * manufacturer, shipper, warehouse, retailer. Every later call checks the
 * calling client's org against the role the step needs.
 *
 * State (public, canonical JSON, composite keys):
 *   participants                     {"manufacturer","retailer","shipper","supplier","warehouse"}
 *   batch~<id>      {"custodian","documents","id","material","measure","quantity","shipment","steps","supplier","type":"batch","usedIn"}
 *   unit~<id>       {"batches","custodian","documents","id","manufacturer","product","saleId","shipment","status","steps","type":"unit"}
 *   shipment~<id>   {"documents","from","id","items","status","steps","termsCollection","to","type":"shipment"}
 * A step is {"at","org","role","step","txid"} (+ "shipment" or "saleId"):
 * every transaction that writes a record appends exactly one step naming
 * itself, so a receipt of that transaction proves the step. A document is
 * {"addedBy","kind","name","sha256","size","bucket","key","versionId","txid"}:
 * the bytes stay in a blob store, the ledger holds their hash, size and
 * location.
 *
 * Private (collections of two orgs only, values from the transient map
 * `terms`, never from arguments):
 *   SupplierManufacturer, ManufacturerShipper, WarehouseRetailer:
 *     terms~<shipmentId>  {"from","shipment","terms","to"}
 *
 * Custody and who must sign (state-based endorsement, key-level policies):
 * - a batch or unit key requires its custodian's peer: OR('<custodian>.peer');
 * - a shipment key, from its creation, requires both sides:
 *   AND('<from>.peer','<to>.peer'); ReceiveShipment (the handover) writes
 *   that key, so a handover endorsed by one side only is recorded
 *   ENDORSEMENT_POLICY_FAILURE and changes nothing;
 * - the handover moves each item's key policy to the receiver.
 *
 * Invariants:
 * - every value written depends only on the proposal and the state read
 *   (time is the transaction's timestamp), so every endorser writes the same bytes;
 * - a refused call throws before its first write, naming the field and the rule;
 * - private terms reach only the two orgs' collection; public records never
 *   hold them (not even their hash: getPrivateDataHash gives that to anyone).
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const { Contract } = require('fabric-contract-api');
const { KeyEndorsementPolicy } = require('fabric-shim');
const { canonicalJson } = require('./canonical');

const ROLES = ['supplier', 'manufacturer', 'shipper', 'warehouse', 'retailer'];
// Which pairs of roles share a collection (the two orgs' terms).
const COLLECTIONS = {
    'supplier>manufacturer': 'SupplierManufacturer',
    'manufacturer>shipper': 'ManufacturerShipper',
    'warehouse>retailer': 'WarehouseRetailer',
};
const PARTICIPANTS = 'participants';
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MSP = /^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/;
const MAX_JSON = 16 * 1024;
const MAX_DOCS = 8;

function fail(message) {
    throw new Error(message);
}

function parseJson(what, text, max) {
    if (typeof text !== 'string' || text.length === 0) fail(`${what} must be a JSON object`);
    if (Buffer.from(text, 'utf8').length > max) fail(`${what} is larger than ${max} bytes`);
    let value;
    try {
        value = JSON.parse(text);
    } catch (e) {
        fail(`${what} is not JSON: ${e.message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(`${what} must be a JSON object`);
    return value;
}

function only(what, value, allowed) {
    for (const k of Object.keys(value)) {
        if (!allowed.includes(k)) fail(`${what}.${k} is not a field (fields: ${allowed.join(', ')})`);
    }
}

function id(what, value) {
    if (typeof value !== 'string' || !ID.test(value)) {
        fail(`${what} must be 1 to 64 of A-Z a-z 0-9 . _ - (starting with a letter or digit)`);
    }
    return value;
}

function text(what, value, max) {
    if (typeof value !== 'string' || value.length === 0 || value.length > max) fail(`${what} must be 1 to ${max} characters`);
    return value;
}

function documents(what, list, ctx) {
    if (list === undefined) return [];
    if (!Array.isArray(list) || list.length > MAX_DOCS) fail(`${what} must be a list of at most ${MAX_DOCS} documents`);
    return list.map((d, i) => {
        const at = `${what}[${i}]`;
        if (d === null || typeof d !== 'object' || Array.isArray(d)) fail(`${at} must be an object`);
        only(at, d, ['name', 'kind', 'sha256', 'size', 'bucket', 'key', 'versionId']);
        if (typeof d.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(d.sha256)) fail(`${at}.sha256 must be a SHA-256 (64 lowercase hex digits)`);
        if (!Number.isSafeInteger(d.size) || d.size < 0) fail(`${at}.size must be a size in bytes (an integer)`);
        if (typeof d.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(d.bucket)) fail(`${at}.bucket must be a bucket name (3 to 63 of a-z 0-9 . -)`);
        if (typeof d.versionId !== 'string' || !/^[A-Za-z0-9._+=-]{1,128}$/.test(d.versionId)) fail(`${at}.versionId must be a version id (1 to 128 of A-Z a-z 0-9 . _ + = -)`);
        return {
            addedBy: ctx.clientIdentity.getMSPID(),
            bucket: d.bucket,
            key: text(`${at}.key`, d.key, 1024),
            kind: text(`${at}.kind`, d.kind, 64),
            name: text(`${at}.name`, d.name, 200),
            sha256: d.sha256,
            size: d.size,
            txid: ctx.stub.getTxID(),
            versionId: d.versionId,
        };
    });
}

class SupplyChain extends Contract {

    constructor() {
        super('SupplyChain');
    }

    // SetParticipants names each role's MSP id, once: {"supplier","manufacturer","shipper","warehouse","retailer"}.
    async SetParticipants(ctx, rolesJson) {
        this._arity(ctx, 'SetParticipants', ['participants']);
        const roles = parseJson('participants', rolesJson, 1024);
        only('participants', roles, ROLES);
        const seen = new Set();
        for (const r of ROLES) {
            if (typeof roles[r] !== 'string' || !MSP.test(roles[r])) fail(`participants.${r} must be an MSP id`);
            if (seen.has(roles[r])) fail(`participants.${r}: ${roles[r]} already has another role; each role needs its own org`);
            seen.add(roles[r]);
        }
        const existing = await ctx.stub.getState(PARTICIPANTS);
        if (existing && existing.length > 0) {
            if (existing.toString('utf8') === canonicalJson(roles)) return existing.toString('utf8');
            fail('the participants are already set and never change');
        }
        const record = canonicalJson(roles);
        await ctx.stub.putState(PARTICIPANTS, Buffer.from(record));
        // Changing the roles would need every org's peer (no function does it).
        await ctx.stub.setStateValidationParameter(PARTICIPANTS, this._policy(ROLES.map((r) => roles[r])));
        return record;
    }

    // GetParticipants returns the roles' MSP ids.
    async GetParticipants(ctx) {
        return canonicalJson(await this._participants(ctx));
    }

    // CreateBatch records a batch of raw material (the supplier's clients):
    // {"id","material","quantity","measure","documents"}.
    async CreateBatch(ctx, batchJson) {
        this._arity(ctx, 'CreateBatch', ['batch']);
        const input = parseJson('batch', batchJson, MAX_JSON);
        only('batch', input, ['id', 'material', 'quantity', 'measure', 'documents']);
        const roles = await this._participants(ctx);
        const org = this._as(ctx, roles, 'supplier', 'create a batch');
        const batchId = id('batch.id', input.id);
        if (typeof input.quantity !== 'number' || !(input.quantity > 0) || !Number.isFinite(input.quantity)) fail('batch.quantity must be a positive number');
        const key = this._key(ctx, 'batch', batchId);
        if (await this._exists(ctx, key)) fail(`batch ${batchId} already exists`);
        const record = {
            custodian: org,
            documents: documents('batch.documents', input.documents, ctx),
            id: batchId,
            material: text('batch.material', input.material, 200),
            measure: text('batch.measure', input.measure, 32),
            quantity: input.quantity,
            shipment: null,
            steps: [this._step(ctx, roles, 'created')],
            supplier: org,
            type: 'batch',
            usedIn: [],
        };
        return this._put(ctx, key, record, [org]);
    }

    // ProduceUnit records a unit made from batches the manufacturer holds
    // (the manufacturer's clients): {"id","product","batches","documents"}.
    async ProduceUnit(ctx, unitJson) {
        this._arity(ctx, 'ProduceUnit', ['unit']);
        const input = parseJson('unit', unitJson, MAX_JSON);
        only('unit', input, ['id', 'product', 'batches', 'documents']);
        const roles = await this._participants(ctx);
        const org = this._as(ctx, roles, 'manufacturer', 'produce a unit');
        const unitId = id('unit.id', input.id);
        if (!Array.isArray(input.batches) || input.batches.length === 0 || input.batches.length > 16) fail('unit.batches must list 1 to 16 batch ids');
        const batchIds = input.batches.map((b, i) => id(`unit.batches[${i}]`, b));
        if (new Set(batchIds).size !== batchIds.length) fail('unit.batches names a batch twice');
        const key = this._key(ctx, 'unit', unitId);
        if (await this._exists(ctx, key)) fail(`unit ${unitId} already exists`);
        const docs = documents('unit.documents', input.documents, ctx);
        const batches = [];
        for (const b of batchIds) {
            const batch = await this._get(ctx, 'batch', b);
            if (batch.custodian !== org) fail(`batch ${b} is held by ${batch.custodian}, not ${org}: receive it first`);
            if (batch.shipment) fail(`batch ${b} is in shipment ${batch.shipment}`);
            batches.push(batch);
        }
        const step = this._step(ctx, roles, 'produced');
        for (const batch of batches) {
            batch.usedIn.push(unitId);
            batch.steps.push({ ...step, step: 'used', unit: unitId });
            await this._put(ctx, this._key(ctx, 'batch', batch.id), batch, [org]);
        }
        const record = {
            batches: batchIds,
            custodian: org,
            documents: docs,
            id: unitId,
            manufacturer: org,
            product: text('unit.product', input.product, 200),
            saleId: null,
            shipment: null,
            status: 'produced',
            steps: [step],
            type: 'unit',
        };
        return this._put(ctx, key, record, [org]);
    }

    // CreateShipment hands items over to another participant, pending its
    // acceptance (the current custodian's clients): {"id","to","items":[{"type","id"}],"documents"};
    // the transient "terms" (a JSON object) go to the two orgs' collection.
    async CreateShipment(ctx, shipmentJson) {
        this._arity(ctx, 'CreateShipment', ['shipment']);
        const input = parseJson('shipment', shipmentJson, MAX_JSON);
        only('shipment', input, ['id', 'to', 'items', 'documents']);
        const roles = await this._participants(ctx);
        const from = ctx.clientIdentity.getMSPID();
        const fromRole = this._role(roles, from);
        if (!fromRole) fail(`${from} is not a participant: only ${ROLES.map((r) => roles[r]).join(', ')} ship`);
        const shipmentId = id('shipment.id', input.id);
        const to = typeof input.to === 'string' ? input.to : fail('shipment.to must be an MSP id');
        const toRole = this._role(roles, to) || fail(`shipment.to: ${to} is not a participant`);
        if (to === from) fail('shipment.to is the sender: a shipment goes to another org');
        if (!Array.isArray(input.items) || input.items.length === 0 || input.items.length > 32) fail('shipment.items must list 1 to 32 items');
        const key = this._key(ctx, 'shipment', shipmentId);
        if (await this._exists(ctx, key)) fail(`shipment ${shipmentId} already exists`);
        const docs = documents('shipment.documents', input.documents, ctx);
        const step = { ...this._step(ctx, roles, 'shipped'), shipment: shipmentId };
        const items = [];
        const seen = new Set();
        for (const [i, item] of input.items.entries()) {
            if (item === null || typeof item !== 'object') fail(`shipment.items[${i}] must be {"type","id"}`);
            only(`shipment.items[${i}]`, item, ['type', 'id']);
            if (item.type !== 'batch' && item.type !== 'unit') fail(`shipment.items[${i}].type must be "batch" or "unit"`);
            const itemId = id(`shipment.items[${i}].id`, item.id);
            if (seen.has(`${item.type}/${itemId}`)) fail(`shipment.items names ${item.type} ${itemId} twice`);
            seen.add(`${item.type}/${itemId}`);
            const record = await this._get(ctx, item.type, itemId);
            if (record.custodian !== from) fail(`${item.type} ${itemId} is held by ${record.custodian}, not ${from}`);
            if (record.shipment) fail(`${item.type} ${itemId} is already in shipment ${record.shipment}`);
            if (record.status === 'sold') fail(`unit ${itemId} is sold`);
            if (item.type === 'batch' && record.usedIn.length > 0) fail(`batch ${itemId} went into production`);
            record.shipment = shipmentId;
            if (item.type === 'unit') record.status = 'in transit';
            record.steps.push(step);
            items.push({ key: this._key(ctx, item.type, itemId), record, item: { id: itemId, type: item.type } });
        }
        let termsCollection = null;
        const transient = ctx.stub.getTransient();
        if (transient.has('terms')) {
            termsCollection = COLLECTIONS[`${fromRole}>${toRole}`] || COLLECTIONS[`${toRole}>${fromRole}`] || null;
            if (!termsCollection) {
                fail(`no collection holds terms between the ${fromRole} and the ${toRole}: collections are ${Object.values(COLLECTIONS).join(', ')}`);
            }
            const terms = parseJson('transient terms', transient.get('terms').toString('utf8'), 4096);
            const value = canonicalJson({ from, shipment: shipmentId, terms, to });
            await ctx.stub.putPrivateData(termsCollection, ctx.stub.createCompositeKey('terms', [shipmentId]), Buffer.from(value));
        }
        for (const it of items) {
            await this._put(ctx, it.key, it.record, [from]);
        }
        const record = {
            documents: docs,
            from,
            id: shipmentId,
            items: items.map((it) => it.item),
            status: 'in transit',
            steps: [step],
            termsCollection,
            to,
            type: 'shipment',
        };
        // From now on the shipment changes only with both sides' peers.
        return this._put(ctx, key, record, [from, to]);
    }

    // ReceiveShipment is the handover: the receiver takes custody of every
    // item (the receiver's clients; both orgs' peers must endorse): {"id","documents"}.
    async ReceiveShipment(ctx, receiptJson) {
        this._arity(ctx, 'ReceiveShipment', ['handover']);
        const input = parseJson('handover', receiptJson, MAX_JSON);
        only('handover', input, ['id', 'documents']);
        const roles = await this._participants(ctx);
        const shipment = await this._get(ctx, 'shipment', id('handover.id', input.id));
        const org = ctx.clientIdentity.getMSPID();
        if (org !== shipment.to) fail(`shipment ${shipment.id} goes to ${shipment.to}: only its clients receive it (not ${org})`);
        if (shipment.status !== 'in transit') fail(`shipment ${shipment.id} was already received`);
        const label = this._role(roles, org) === 'warehouse' ? 'arrived at warehouse' : 'received';
        const step = { ...this._step(ctx, roles, label), shipment: shipment.id };
        const docs = documents('handover.documents', input.documents, ctx);
        for (const item of shipment.items) {
            const record = await this._get(ctx, item.type, item.id);
            record.custodian = org;
            record.shipment = null;
            if (item.type === 'unit') record.status = label;
            record.steps.push(step);
            await this._put(ctx, this._key(ctx, item.type, item.id), record, [org]);
        }
        shipment.status = 'delivered';
        shipment.documents = shipment.documents.concat(docs);
        shipment.steps.push(step);
        return this._put(ctx, this._key(ctx, 'shipment', shipment.id), shipment, [shipment.from, shipment.to]);
    }

    // SellUnit records the sale of a unit the retailer holds (the retailer's clients): {"id","saleId"}.
    async SellUnit(ctx, saleJson) {
        this._arity(ctx, 'SellUnit', ['sale']);
        const input = parseJson('sale', saleJson, 1024);
        only('sale', input, ['id', 'saleId']);
        const roles = await this._participants(ctx);
        const org = this._as(ctx, roles, 'retailer', 'sell a unit');
        const unit = await this._get(ctx, 'unit', id('sale.id', input.id));
        if (unit.custodian !== org) fail(`unit ${unit.id} is held by ${unit.custodian}, not ${org}`);
        if (unit.status === 'sold') fail(`unit ${unit.id} is already sold (sale ${unit.saleId})`);
        unit.saleId = id('sale.saleId', input.saleId);
        unit.status = 'sold';
        unit.steps.push({ ...this._step(ctx, roles, 'sold'), saleId: unit.saleId });
        return this._put(ctx, this._key(ctx, 'unit', unit.id), unit, [org]);
    }

    // GetBatch, GetUnit and GetShipment return one record.
    async GetBatch(ctx, batchId) {
        return canonicalJson(await this._get(ctx, 'batch', id('batch id', batchId)));
    }

    async GetUnit(ctx, unitId) {
        return canonicalJson(await this._get(ctx, 'unit', id('unit id', unitId)));
    }

    async GetShipment(ctx, shipmentId) {
        return canonicalJson(await this._get(ctx, 'shipment', id('shipment id', shipmentId)));
    }

    // GetProvenance returns a unit with its batches and every shipment that moved them.
    async GetProvenance(ctx, unitId) {
        const unit = await this._get(ctx, 'unit', id('unit id', unitId));
        const batches = [];
        const shipmentIds = new Set();
        const collect = (r) => r.steps.forEach((s) => s.shipment && shipmentIds.add(s.shipment));
        collect(unit);
        for (const b of unit.batches) {
            const batch = await this._get(ctx, 'batch', b);
            collect(batch);
            batches.push(batch);
        }
        const shipments = [];
        for (const s of [...shipmentIds].sort()) shipments.push(await this._get(ctx, 'shipment', s));
        return canonicalJson({ batches, shipments, unit });
    }

    // GetTerms returns a shipment's private terms (members of its collection only).
    async GetTerms(ctx, shipmentId) {
        const shipment = await this._get(ctx, 'shipment', id('shipment id', shipmentId));
        if (!shipment.termsCollection) fail(`shipment ${shipment.id} has no private terms`);
        const data = await ctx.stub.getPrivateData(shipment.termsCollection, ctx.stub.createCompositeKey('terms', [shipment.id]));
        if (!data || data.length === 0) fail(`the terms of shipment ${shipment.id} are not on this peer`);
        return data.toString('utf8');
    }

    _key(ctx, type, itemId) {
        return ctx.stub.createCompositeKey(type, [itemId]);
    }

    async _exists(ctx, key) {
        const data = await ctx.stub.getState(key);
        return !!(data && data.length > 0);
    }

    async _get(ctx, type, itemId) {
        const data = await ctx.stub.getState(this._key(ctx, type, itemId));
        if (!data || data.length === 0) fail(`${type} ${itemId} does not exist`);
        return JSON.parse(data.toString('utf8'));
    }

    // Writes a record and makes `orgs`' peers (all of them) its endorsers.
    async _put(ctx, key, record, orgs) {
        const value = canonicalJson(record);
        await ctx.stub.putState(key, Buffer.from(value));
        await ctx.stub.setStateValidationParameter(key, this._policy(orgs));
        return value;
    }

    _policy(orgs) {
        const ep = new KeyEndorsementPolicy();
        ep.addOrgs('PEER', ...orgs);
        return ep.getPolicy();
    }

    async _participants(ctx) {
        const data = await ctx.stub.getState(PARTICIPANTS);
        if (!data || data.length === 0) fail('the participants are not set: call SetParticipants first');
        return JSON.parse(data.toString('utf8'));
    }

    _role(roles, msp) {
        return ROLES.find((r) => roles[r] === msp) || null;
    }

    // The calling client's org, which must hold `role`.
    _as(ctx, roles, role, what) {
        const org = ctx.clientIdentity.getMSPID();
        if (org !== roles[role]) fail(`only the ${role} (${roles[role]}) may ${what}; the client is of ${org}`);
        return org;
    }

    _step(ctx, roles, step) {
        const org = ctx.clientIdentity.getMSPID();
        return { at: ctx.stub.getDateTimestamp().toISOString(), org, role: this._role(roles, org), step, txid: ctx.stub.getTxID() };
    }

    // Fabric passes missing arguments as undefined and drops extra ones;
    // a call with the wrong count is refused instead, naming the parameters.
    _arity(ctx, fn, names) {
        const { params } = ctx.stub.getFunctionAndParameters();
        if (params.length !== names.length) {
            fail(`${fn} takes ${names.length} argument${names.length === 1 ? '' : 's'} (${names.join(', ')}); got ${params.length}`);
        }
    }
}

module.exports = SupplyChain;
