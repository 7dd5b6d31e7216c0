// Runs one invocation the way fabric-shim's ChaincodeFromContract does:
// `Contract:function` routing with the default contract, the system
// contract `org.hyperledger.fabric` (GetMetadata), before/around/after
// hooks, unknownTransaction, Fabric's JSON serialization of results, and
// thrown errors mapped to status 500 with the error's message. Low-level
// chaincode registered with shim.start (Init/Invoke) runs too.
(function (host, internal) {
  'use strict';
  const { Buffer, Contract, ChaincodeStub, ClientIdentity, JSONSerializer } = internal;
  const SYSTEM_CONTRACT = 'org.hyperledger.fabric';
  const serializer = new JSONSerializer();

  function splitFunctionName(fcn, defaultName) {
    const m = /([^:]*)(?::|^)(.*)/.exec(fcn);
    let contractName = m[1];
    const fn = m[2];
    if (!contractName || contractName.trim() === '') contractName = defaultName;
    return { contractName, fn };
  }

  function transactionsOf(instance) {
    const decorated = internal.current.transactions.get(Object.getPrototypeOf(instance));
    if (decorated && decorated.length) return decorated;
    const skip = Object.getOwnPropertyNames(Contract.prototype);
    const names = new Set();
    // Fabric lists the methods of the contract's own class; subclasses of
    // subclasses keep their parents' methods reachable as well.
    for (let p = Object.getPrototypeOf(instance); p && p !== Contract.prototype && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const name of Object.getOwnPropertyNames(p)) {
        if (name === 'constructor' || name.startsWith('_') || skip.includes(name)) continue;
        if (typeof instance[name] === 'function') names.add(name);
      }
    }
    return Array.from(names, (name) => ({ name, tags: ['SUBMIT', 'submitTx'] }));
  }

  function metadataOf(implementations, defaultName) {
    const contracts = {};
    for (const [name, instance] of implementations) {
      contracts[name] = {
        name,
        contractInstance: { name, default: name === defaultName },
        transactions: name === SYSTEM_CONTRACT
          ? [{ name: 'GetMetadata' }]
          : transactionsOf(instance).map((t) => ({ ...t, parameters: [] })),
        info: internal.current.info.get(instance.constructor.name) || { title: '', version: '' },
      };
    }
    return {
      $schema: 'https://hyperledger.github.io/fabric-chaincode-node/main/api/contract-schema.json',
      contracts,
      info: { title: '', version: '' },
      components: { schemas: {} },
    };
  }

  function errorResponse(message) { return { status: 500, message: String(message), payload: new Uint8Array(0) }; }

  function messageOf(error) {
    if (error && typeof error.message === 'string') return error.message;
    return String(error);
  }

  // Limits hit inside the contract are reported to Rust, which ends the
  // call with a limit error instead of a 500 response.
  function classify(error) {
    if (error instanceof InternalError && error.message === 'out of memory') host.limit('memory', 0);
    else if (error instanceof RangeError && /Maximum call stack size exceeded/.test(error.message)) host.limit('stack', 0);
  }

  function checkedPayload(bytes, tx) {
    if (bytes.length > tx.maxResponse) host.limit('response', bytes.length);
    return bytes;
  }

  function toWire(result, tx) {
    if (typeof result === 'string' && result.length > tx.maxResponse) host.limit('response', result.length);
    const buf = serializer.toBuffer(result);
    return checkedPayload(buf === undefined ? new Uint8Array(0) : buf, tx);
  }

  async function invokeContracts(classes, stub, tx) {
    const implementations = new Map();
    let defaultName = internal.current.defaultContract;
    for (const ContractClass of classes) {
      const instance = new ContractClass();
      if (!Contract._isContract(instance)) throw new Error(`invalid contract instance ${JSON.stringify(instance)}`);
      const name = instance.getName();
      if (!defaultName) defaultName = name;
      implementations.set(name, instance);
    }
    const system = new Contract(SYSTEM_CONTRACT);
    implementations.set(SYSTEM_CONTRACT, system);

    const fAndP = tx.fn;
    if (!fAndP) return { status: 200, message: '', payload: Buffer.from('Default initiator successful.') };
    const { contractName, fn } = splitFunctionName(fAndP, defaultName);
    const instance = implementations.get(contractName);
    if (!instance) return errorResponse(`Contract name is not known: ${contractName}`);
    if (instance === system) {
      if (fn === 'GetMetadata') {
        return { status: 200, message: '', payload: Buffer.from(JSON.stringify(metadataOf(implementations, defaultName))) };
      }
      return errorResponse(`You've asked to invoke a function that does not exist: ${fn}`);
    }
    const ctx = instance.createContext();
    ctx.setChaincodeStub(stub);
    ctx.setClientIdentity(new ClientIdentity(stub));
    ctx.logging = {
      setLevel() {},
      getLogger: (name) => internal.loggerFor(name ? `${contractName}:${name}` : contractName),
    };
    const exists = transactionsOf(instance).some((t) => t.name === fn);
    if (!exists) {
      await instance.unknownTransaction(ctx);
      return { status: 200, message: '', payload: new Uint8Array(0) };
    }
    const parameters = stub.getStringArgs().slice(1);
    await instance.beforeTransaction(ctx);
    const result = await instance.aroundTransaction(ctx, fn, parameters);
    await instance.afterTransaction(ctx, result);
    return { status: 200, message: '', payload: toWire(result, tx) };
  }

  async function invokeChaincode(chaincode, stub, tx) {
    const response = tx.isInit ? await chaincode.Init(stub) : await chaincode.Invoke(stub);
    if (!response || typeof response.status !== 'number') {
      return errorResponse('the chaincode did not return a response object (use shim.success or shim.error)');
    }
    const payload = response.payload === undefined || response.payload === null
      ? new Uint8Array(0)
      : Buffer.from(response.payload);
    return { status: response.status, message: response.message ? String(response.message) : '', payload: checkedPayload(payload, tx) };
  }

  // The response as Rust reads it: the payload as a binary string.
  internal.invoke = async function invoke(tx) {
    const response = await run(tx);
    return { status: response.status, message: response.message, payload: internal.bin(response.payload) };
  };

  async function run(tx) {
    internal.beginClock(tx.millis, tx.seed);
    internal.resetConsole();
    internal.current = {
      tx, chaincode: null, defaultContract: undefined, transactions: new Map(), info: new Map(),
    };
    try {
      const exported = internal.loadMain(tx.main);
      const stub = new ChaincodeStub(tx);
      let contracts = exported && exported.contracts;
      if (typeof contracts === 'function') contracts = [contracts];
      if (Array.isArray(contracts) && contracts.length > 0) return await invokeContracts(contracts, stub, tx);
      if (internal.current.chaincode) return await invokeChaincode(internal.current.chaincode, stub, tx);
      return errorResponse("the package's main module exports no contracts: set module.exports.contracts to an array of Contract classes, or call shim.start(chaincode)");
    } catch (error) {
      classify(error);
      return errorResponse(messageOf(error));
    }
  }

  internal.endInvoke = function endInvoke() {
    internal.unloadModules();
    internal.current = null;
  };
})
