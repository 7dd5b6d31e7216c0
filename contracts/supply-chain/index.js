/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const SupplyChain = require('./lib/supplyChain');

module.exports.SupplyChain = SupplyChain;
module.exports.contracts = [SupplyChain];
