/*
 * SPDX-License-Identifier: Apache-2.0
 */

'use strict';

const HealthRecords = require('./lib/healthRecords');

module.exports.HealthRecords = HealthRecords;
module.exports.contracts = [HealthRecords];
