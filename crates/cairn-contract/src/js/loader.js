// CommonJS modules over the package's files. Each file is compiled once per
// runtime into a wrapper function; every invocation runs the wrappers again
// with fresh `module` objects, so module-level state never survives from one
// transaction to the next. Resolution happens in Rust (host.resolve) and
// never leaves the package.
(function (host, internal) {
  'use strict';
  const factories = new Map();
  let modules = new Map();
  let mainModule = null;

  function dirname(path) {
    const i = path.lastIndexOf('/');
    return i < 0 ? '' : path.slice(0, i);
  }

  function compiled(path) {
    let fn = factories.get(path);
    if (!fn) {
      fn = host.compile(path);
      // Sloppy code can reach its wrapper through arguments.callee: freeze it
      // so nothing can be stashed on it between invocations.
      Object.freeze(fn);
      if (fn.prototype) Object.freeze(fn.prototype);
      factories.set(path, fn);
    }
    return fn;
  }

  function makeRequire(fromModule) {
    const dir = fromModule ? dirname(fromModule.id) : '';
    function resolveTarget(spec) {
      if (typeof spec !== 'string') {
        const err = new TypeError(`The "id" argument must be of type string. Received ${typeof spec}`);
        err.code = 'ERR_INVALID_ARG_TYPE';
        throw err;
      }
      const target = host.resolve(dir, spec);
      if (target.startsWith('error:')) {
        const err = new Error(target.slice(6));
        err.code = 'MODULE_NOT_FOUND';
        throw err;
      }
      return target;
    }
    function require(spec) {
      const target = resolveTarget(spec);
      if (target.startsWith('builtin:')) return internal.builtin(target.slice(8));
      return load(target.slice(5), fromModule);
    }
    require.resolve = function resolve(spec) {
      const target = resolveTarget(spec);
      return target.startsWith('builtin:') ? target.slice(8) : '/' + target.slice(5);
    };
    require.cache = Object.create(null);
    require.main = mainModule;
    return require;
  }

  function load(path, parent) {
    const cached = modules.get(path);
    if (cached) return cached.exports;
    const module = {
      id: path, filename: '/' + path, path: '/' + dirname(path), exports: {},
      loaded: false, parent: parent || null, children: [], paths: [],
    };
    module.require = makeRequire(module);
    if (!parent) mainModule = module;
    modules.set(path, module);
    if (parent) parent.children.push(module);
    try {
      if (path.endsWith('.json')) {
        module.exports = JSON.parse(host.source(path));
      } else {
        compiled(path).call(module.exports, module.exports, module.require, module, module.filename, module.path);
      }
    } catch (err) {
      modules.delete(path);
      throw err;
    }
    module.loaded = true;
    return module.exports;
  }

  // Fresh module instances for one invocation; returns the main module's exports.
  internal.loadMain = function loadMain(mainPath) {
    modules = new Map();
    mainModule = null;
    return load(mainPath, null);
  };
  internal.unloadModules = function unloadModules() {
    modules = new Map();
    mainModule = null;
  };
})
