/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Private data collections written against Fabric's fabric-contract-api.
 *
 * AcmeChain (seed 003): writePDC1/writePDC2 take the value from the transient
 * map (key "value"); readPDC1/readPDC2 read it back; hashPDC returns the
 * ledger's hash of a private value.
 *
 * Asset transfer (after fabric-samples' asset-transfer-private-data): the
 * asset's shared part lives in "assetCollection" (both orgs), each owner's
 * valuation in its implicit org collection. The buyer records its valuation
 * in its own implicit collection; the seller hands the asset over only if the
 * buyer's valuation, which the seller's peer cannot read, hashes to the same
 * value as the seller's own: the hash on the ledger written through one
 * collection is compared with a hash recomputed from another.
 */

'use strict';

const crypto = require('crypto');
const { Contract } = require('fabric-contract-api');

const assetCollection = 'assetCollection';
const agreementType = 'transferAgreement';

function transientJSON(ctx, name) {
    const map = ctx.stub.getTransient();
    if (!map.has(name)) {
        throw new Error(`the transient map has no ${name}: pass private inputs as transient data`);
    }
    return JSON.parse(map.get(name).toString());
}

function implicitCollection(mspId) {
    return `_implicit_org_${mspId}`;
}

// The exact bytes both orgs store for a valuation: equal valuations give
// equal hashes.
function valuation(assetID, appraisedValue) {
    return JSON.stringify({ assetID: String(assetID), appraisedValue: Number(appraisedValue) });
}

function sha256Hex(bytes) {
    return crypto.createHash('sha256').update(bytes).digest('hex');
}

class PrivateAssets extends Contract {
    // --- AcmeChain -----------------------------------------------------

    async writePDC1(ctx, key) { return this._write(ctx, 'PDC1', key); }
    async writePDC2(ctx, key) { return this._write(ctx, 'PDC2', key); }
    async readPDC1(ctx, key) { return this._read(ctx, 'PDC1', key); }
    async readPDC2(ctx, key) { return this._read(ctx, 'PDC2', key); }

    async _write(ctx, collection, key) {
        const value = ctx.stub.getTransient().get('value');
        if (!value || value.length === 0) throw new Error('pass the value as transient data "value"');
        await ctx.stub.putPrivateData(collection, key, value);
    }

    async _read(ctx, collection, key) {
        const value = await ctx.stub.getPrivateData(collection, key);
        if (value.length === 0) throw new Error(`${key} does not exist in ${collection}`);
        return value.toString();
    }

    async hashPDC(ctx, collection, key) {
        return (await ctx.stub.getPrivateDataHash(collection, key)).toString('hex');
    }

    async deletePDC(ctx, collection, key) { await ctx.stub.deletePrivateData(collection, key); }
    async purgePDC(ctx, collection, key) { await ctx.stub.purgePrivateData(collection, key); }

    async rangePDC(ctx, collection, start, end) {
        const out = [];
        for await (const { key, value } of ctx.stub.getPrivateDataByRange(collection, start, end)) {
            out.push({ key, value: value.toString() });
        }
        return out;
    }

    async indexPDC(ctx, collection, color, id) {
        const key = ctx.stub.createCompositeKey('color~id', [color, id]);
        await ctx.stub.putPrivateData(collection, key, Buffer.from([0]));
    }

    async byColorPDC(ctx, collection, color) {
        const ids = [];
        const it = await ctx.stub.getPrivateDataByPartialCompositeKey(collection, 'color~id', [color]);
        for (let r = await it.next(); !r.done; r = await it.next()) {
            ids.push(ctx.stub.splitCompositeKey(r.value.key).attributes[1]);
        }
        await it.close();
        return ids;
    }

    // --- Asset transfer ------------------------------------------------

    async CreateAsset(ctx) {
        const props = transientJSON(ctx, 'asset_properties');
        this._clientOrgMatchesPeer(ctx);
        const existing = await ctx.stub.getPrivateData(assetCollection, props.assetID);
        if (existing.length !== 0) throw new Error(`asset ${props.assetID} already exists`);
        const asset = {
            objectType: 'asset',
            assetID: props.assetID,
            color: props.color,
            size: Number(props.size),
            owner: ctx.clientIdentity.getID(),
            ownerOrg: ctx.clientIdentity.getMSPID(),
        };
        await ctx.stub.putPrivateData(assetCollection, props.assetID, Buffer.from(JSON.stringify(asset)));
        await ctx.stub.putPrivateData(implicitCollection(ctx.clientIdentity.getMSPID()), props.assetID,
            Buffer.from(valuation(props.assetID, props.appraisedValue)));
    }

    async ReadAsset(ctx, assetID) {
        const bytes = await ctx.stub.getPrivateData(assetCollection, assetID);
        if (bytes.length === 0) throw new Error(`asset ${assetID} does not exist`);
        return JSON.parse(bytes.toString());
    }

    async ReadValuation(ctx, mspId, assetID) {
        const bytes = await ctx.stub.getPrivateData(implicitCollection(mspId), assetID);
        return bytes.length === 0 ? '' : bytes.toString();
    }

    async AgreeToTransfer(ctx) {
        const v = transientJSON(ctx, 'asset_value');
        this._clientOrgMatchesPeer(ctx);
        const asset = await this.ReadAsset(ctx, v.assetID);
        if (asset.ownerOrg === ctx.clientIdentity.getMSPID()) throw new Error('the owner cannot buy its own asset');
        await ctx.stub.putPrivateData(implicitCollection(ctx.clientIdentity.getMSPID()), v.assetID,
            Buffer.from(valuation(v.assetID, v.appraisedValue)));
        const agreementKey = ctx.stub.createCompositeKey(agreementType, [v.assetID]);
        await ctx.stub.putPrivateData(assetCollection, agreementKey, Buffer.from(ctx.clientIdentity.getID()));
    }

    // The buyer checks what the seller told it off-chain against the hash on
    // the ledger (Fabric sample's VerifyAssetProperties): its peer cannot read
    // the seller's implicit collection, only its hash.
    async VerifyValuation(ctx, sellerMsp) {
        const handed = ctx.stub.getTransient().get('valuation');
        if (!handed) throw new Error('pass the valuation as transient data "valuation"');
        const assetID = JSON.parse(handed.toString()).assetID;
        const onLedger = (await ctx.stub.getPrivateDataHash(implicitCollection(sellerMsp), assetID)).toString('hex');
        if (onLedger === '') throw new Error(`${sellerMsp} has no valuation of ${assetID}`);
        return sha256Hex(handed) === onLedger;
    }

    async TransferAsset(ctx) {
        const t = transientJSON(ctx, 'asset_owner');
        this._clientOrgMatchesPeer(ctx);
        const asset = await this.ReadAsset(ctx, t.assetID);
        if (asset.owner !== ctx.clientIdentity.getID()) throw new Error(`only the owner may transfer ${t.assetID}`);
        const agreementKey = ctx.stub.createCompositeKey(agreementType, [t.assetID]);
        const buyer = (await ctx.stub.getPrivateData(assetCollection, agreementKey)).toString();
        if (buyer === '') throw new Error(`nobody agreed to buy ${t.assetID}`);
        // The seller's own valuation (readable here: this peer is the
        // seller's), hashed again, against the buyer's hash on the ledger.
        const sellerCollection = implicitCollection(ctx.clientIdentity.getMSPID());
        const mine = await ctx.stub.getPrivateData(sellerCollection, t.assetID);
        const theirs = (await ctx.stub.getPrivateDataHash(implicitCollection(t.buyerMSP), t.assetID)).toString('hex');
        if (theirs === '' || sha256Hex(mine) !== theirs) {
            throw new Error(`the valuations of ${t.assetID} by ${asset.ownerOrg} and ${t.buyerMSP} differ: no transfer`);
        }
        asset.owner = buyer;
        asset.ownerOrg = t.buyerMSP;
        await ctx.stub.putPrivateData(assetCollection, t.assetID, Buffer.from(JSON.stringify(asset)));
        await ctx.stub.deletePrivateData(sellerCollection, t.assetID);
        await ctx.stub.deletePrivateData(assetCollection, agreementKey);
    }

    _clientOrgMatchesPeer(ctx) {
        if (ctx.clientIdentity.getMSPID() !== ctx.stub.getMspID()) {
            throw new Error(`client from org ${ctx.clientIdentity.getMSPID()} is not authorized to read or write private data from an org ${ctx.stub.getMspID()} peer`);
        }
    }
}

module.exports.contracts = [PrivateAssets];
