/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const ModelRegistry = require('./lib/modelRegistry');

module.exports.ModelRegistry = ModelRegistry;
module.exports.contracts = [ModelRegistry];
