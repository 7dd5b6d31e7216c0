// Deliberately sloppy-mode code (no 'use strict'), as some npm packages are.
module.exports = function leakSloppily() {
    undeclaredGlobal = 'sloppy';
    return this === undefined ? 'strict' : 'sloppy';
};
