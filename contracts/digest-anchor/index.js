/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const DigestAnchor = require('./lib/digestAnchor');

module.exports.DigestAnchor = DigestAnchor;
module.exports.contracts = [DigestAnchor];
