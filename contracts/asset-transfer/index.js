/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const assetTransfer = require('./lib/assetTransfer');
const assetAudit = require('./lib/assetAudit');

module.exports.AssetTransfer = assetTransfer;
module.exports.AssetAudit = assetAudit;
module.exports.contracts = [assetTransfer, assetAudit];
