/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const BlobAnchor = require('./lib/blobAnchor');

module.exports.BlobAnchor = BlobAnchor;
module.exports.contracts = [BlobAnchor];
