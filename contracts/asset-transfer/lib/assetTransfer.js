/*
 * Asset transfer, in the style of Hyperledger Fabric's
 * asset-transfer-basic/chaincode-javascript sample, with the additions of
 * asset-transfer-abac (attribute-based access) and the ledger queries the
 * other samples show: composite-key indexes, range queries (also paginated),
 * key history and events.
 *
 * Written against fabric-contract-api; it runs unmodified on Fabric.
 *
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

// Deterministic JSON: the same asset must serialize to the same bytes on
// every endorsing peer, whatever the order its properties were set in.
const stringify = require('json-stringify-deterministic');
const sortKeysRecursive = require('sort-keys-recursive');
const { Contract } = require('fabric-contract-api');

const OWNER_INDEX = 'owner~id';

class AssetTransfer extends Contract {

    async InitLedger(ctx) {
        const assets = [
            { ID: 'asset1', Color: 'blue', Size: 5, Owner: 'Tomoko', AppraisedValue: 300 },
            { ID: 'asset2', Color: 'red', Size: 5, Owner: 'Brad', AppraisedValue: 400 },
            { ID: 'asset3', Color: 'green', Size: 10, Owner: 'Jin Soo', AppraisedValue: 500 },
            { ID: 'asset4', Color: 'yellow', Size: 10, Owner: 'Max', AppraisedValue: 600 },
            { ID: 'asset5', Color: 'black', Size: 15, Owner: 'Adriana', AppraisedValue: 700 },
            { ID: 'asset6', Color: 'white', Size: 15, Owner: 'Michel', AppraisedValue: 800 },
        ];

        for (const asset of assets) {
            asset.docType = 'asset';
            asset.Creator = ctx.clientIdentity.getID();
            await ctx.stub.putState(asset.ID, Buffer.from(stringify(sortKeysRecursive(asset))));
            await this._index(ctx, asset.Owner, asset.ID, true);
        }
    }

    // CreateAsset issues a new asset to the world state with given details.
    // Only identities whose certificate carries abac.creator=true may create (asset-transfer-abac).
    async CreateAsset(ctx, id, color, size, owner, appraisedValue) {
        if (!ctx.clientIdentity.assertAttributeValue('abac.creator', 'true')) {
            throw new Error('submitting client not authorized to create asset, does not have abac.creator role');
        }
        const exists = await this.AssetExists(ctx, id);
        if (exists) {
            throw new Error(`The asset ${id} already exists`);
        }

        const asset = {
            ID: id,
            Color: color,
            Size: Number(size),
            Owner: owner,
            AppraisedValue: Number(appraisedValue),
            Creator: ctx.clientIdentity.getID(),
            CreatorMSP: ctx.clientIdentity.getMSPID(),
            Created: new Date().toISOString(),
        };
        await ctx.stub.putState(id, Buffer.from(stringify(sortKeysRecursive(asset))));
        await this._index(ctx, owner, id, true);
        ctx.stub.setEvent('CreateAsset', Buffer.from(stringify(sortKeysRecursive(asset))));
        return JSON.stringify(asset);
    }

    // ReadAsset returns the asset stored in the world state with given id.
    async ReadAsset(ctx, id) {
        const assetJSON = await ctx.stub.getState(id);
        if (!assetJSON || assetJSON.length === 0) {
            throw new Error(`The asset ${id} does not exist`);
        }
        return assetJSON.toString();
    }

    // UpdateAsset updates an existing asset; only its creator may.
    async UpdateAsset(ctx, id, color, size, owner, appraisedValue) {
        const asset = JSON.parse(await this.ReadAsset(ctx, id));
        this._checkCreator(ctx, asset, 'update');
        if (asset.Owner !== owner) {
            await this._index(ctx, asset.Owner, id, false);
            await this._index(ctx, owner, id, true);
        }
        const updated = Object.assign(asset, {
            Color: color,
            Size: Number(size),
            Owner: owner,
            AppraisedValue: Number(appraisedValue),
        });
        return ctx.stub.putState(id, Buffer.from(stringify(sortKeysRecursive(updated))));
    }

    // DeleteAsset deletes a given asset from the world state; only its creator may.
    async DeleteAsset(ctx, id) {
        const asset = JSON.parse(await this.ReadAsset(ctx, id));
        this._checkCreator(ctx, asset, 'delete');
        await this._index(ctx, asset.Owner, id, false);
        ctx.stub.setEvent('DeleteAsset', Buffer.from(id));
        return ctx.stub.deleteState(id);
    }

    // AssetExists returns true when asset with given ID exists in world state.
    async AssetExists(ctx, id) {
        const assetJSON = await ctx.stub.getState(id);
        return assetJSON && assetJSON.length > 0;
    }

    // TransferAsset updates the owner field of asset with given id in the world state.
    async TransferAsset(ctx, id, newOwner) {
        const assetString = await this.ReadAsset(ctx, id);
        const asset = JSON.parse(assetString);
        const oldOwner = asset.Owner;
        asset.Owner = newOwner;
        await this._index(ctx, oldOwner, id, false);
        await this._index(ctx, newOwner, id, true);
        await ctx.stub.putState(id, Buffer.from(stringify(sortKeysRecursive(asset))));
        ctx.stub.setEvent('TransferAsset', Buffer.from(JSON.stringify({ ID: id, from: oldOwner, to: newOwner })));
        return oldOwner;
    }

    // GetAllAssets returns all assets found in the world state.
    async GetAllAssets(ctx) {
        const allResults = [];
        // range query with empty string for startKey and endKey does an open-ended query of all assets in the chaincode namespace.
        const iterator = await ctx.stub.getStateByRange('', '');
        let result = await iterator.next();
        while (!result.done) {
            const strValue = Buffer.from(result.value.value.toString()).toString('utf8');
            let record;
            try {
                record = JSON.parse(strValue);
            } catch (err) {
                console.log(err);
                record = strValue;
            }
            allResults.push(record);
            result = await iterator.next();
        }
        await iterator.close();
        return JSON.stringify(allResults);
    }

    // GetAssetsByRange returns the assets with keys in [startKey, endKey), read with for await.
    async GetAssetsByRange(ctx, startKey, endKey) {
        const results = [];
        for await (const { key, value } of ctx.stub.getStateByRange(startKey, endKey)) {
            results.push({ Key: key, Record: JSON.parse(value.toString('utf8')) });
        }
        return results;
    }

    // GetAssetsByRangeWithPagination returns one page of assets and the bookmark of the next.
    async GetAssetsByRangeWithPagination(ctx, startKey, endKey, pageSize, bookmark) {
        const { iterator, metadata } = await ctx.stub.getStateByRangeWithPagination(startKey, endKey, parseInt(pageSize, 10), bookmark);
        const records = [];
        let res = await iterator.next();
        while (!res.done) {
            records.push(JSON.parse(res.value.value.toString('utf8')).ID);
            res = await iterator.next();
        }
        await iterator.close();
        return { records, fetchedRecordsCount: metadata.fetchedRecordsCount, bookmark: metadata.bookmark };
    }

    // GetAssetsByOwner queries the owner~id composite-key index.
    async GetAssetsByOwner(ctx, owner) {
        const ids = [];
        const iterator = await ctx.stub.getStateByPartialCompositeKey(OWNER_INDEX, [owner]);
        for (let res = await iterator.next(); !res.done; res = await iterator.next()) {
            const { objectType, attributes } = ctx.stub.splitCompositeKey(res.value.key);
            if (objectType !== OWNER_INDEX) {
                throw new Error(`unexpected index ${objectType}`);
            }
            ids.push(attributes[1]);
        }
        await iterator.close();
        return ids;
    }

    // GetAssetHistory returns every committed change of an asset, newest first.
    async GetAssetHistory(ctx, id) {
        const history = [];
        const iterator = await ctx.stub.getHistoryForKey(id);
        let res = await iterator.next();
        while (!res.done) {
            const mod = res.value;
            history.push({
                TxId: mod.txId,
                IsDelete: mod.isDelete,
                Timestamp: new Date(mod.timestamp.seconds * 1000).toISOString(),
                Value: mod.isDelete ? null : JSON.parse(mod.value.toString('utf8')),
            });
            res = await iterator.next();
        }
        await iterator.close();
        return history;
    }

    // WhoAmI reports the client identity, as asset-transfer-abac's GetSubmittingClientIdentity.
    async WhoAmI(ctx) {
        return {
            id: ctx.clientIdentity.getID(),
            mspid: ctx.clientIdentity.getMSPID(),
            creator: ctx.clientIdentity.getAttributeValue('abac.creator'),
            missing: ctx.clientIdentity.getAttributeValue('no.such.attribute'),
            idBytesStart: ctx.clientIdentity.getIDBytes().toString('utf8').split('\n')[0],
            txId: ctx.stub.getTxID(),
            channel: ctx.stub.getChannelID(),
            peerMsp: ctx.stub.getMspID(),
        };
    }

    _checkCreator(ctx, asset, action) {
        const caller = ctx.clientIdentity.getID();
        if (asset.Creator !== caller) {
            throw new Error(`submitting client not authorized to ${action} asset ${asset.ID}: it was created by another identity`);
        }
    }

    async _index(ctx, owner, id, add) {
        const key = ctx.stub.createCompositeKey(OWNER_INDEX, [owner, id]);
        if (add) {
            // The value cannot be empty: an empty value deletes the key.
            await ctx.stub.putState(key, Buffer.from('\u0000'));
        } else {
            await ctx.stub.deleteState(key);
        }
    }
}

module.exports = AssetTransfer;
