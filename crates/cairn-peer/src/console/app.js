// The Cairn web console: login with an org identity's key file (signed in
// this page with WebCrypto; the key never leaves it), then pages over the
// peer's JSON API, which answers as that identity. Built from DOM nodes
// (textContent only), so nothing from the ledger is ever parsed as HTML.
'use strict';

(() => {
  const $ = (sel) => document.querySelector(sel);
  const R = CairnReceipt;
  const state = { me: null, channels: [], configs: {}, userCas: null };

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }

  function link(hash, text) { return el('a', { href: hash, text }); }
  function short(h) { return h && h.length > 20 ? `${h.slice(0, 12)}…${h.slice(-4)}` : h; }
  function main(...kids) { const m = $('#main'); m.replaceChildren(...kids); return m; }

  async function api(path, opts) {
    const r = await fetch(path, Object.assign({ credentials: 'same-origin' }, opts));
    const text = await r.text();
    let body = {};
    try { body = text ? JSON.parse(text) : {}; } catch (_) { body = { error: text }; }
    if (!r.ok) { const e = new Error(body.error || `HTTP ${r.status}`); e.status = r.status; throw e; }
    return body;
  }

  const get = (path) => api(path);
  const post = (path, body) => api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const ch = (c) => `/api/v1/channels/${encodeURIComponent(c)}`;

  async function evaluate(channel, contract, fn, args) {
    const r = await post(`${ch(channel)}/evaluate`, { contract, function: fn, args });
    if (r.status !== 200) throw new Error(r.message || `status ${r.status}`);
    return r.text;
  }

  async function config(channel) {
    if (!state.configs[channel]) state.configs[channel] = await get(`${ch(channel)}/config`);
    return state.configs[channel];
  }

  // What receipts are checked against: the CA files the user loaded, else
  // the orderer orgs' CAs from the channel configuration this peer serves.
  async function trustedCas(channel) {
    if (state.userCas) return state.userCas;
    const c = await config(channel);
    return c.orgs.filter((o) => c.orderer_orgs.includes(o.msp_id)).map((o) => ({ msp_id: o.msp_id, ca_pem: o.ca_pem }));
  }

  async function fingerprint(pem) { return R.bytesToHex(await R.sha256(R.pemToDer(pem).der)); }

  // ---- login ----
  function readFile(input) {
    return new Promise((resolve, reject) => {
      const f = input.files && input.files[0];
      if (!f) { reject(new Error(`choose the ${input.dataset.what}`)); return; }
      const rd = new FileReader();
      rd.onload = () => resolve(rd.result);
      rd.onerror = () => reject(new Error(`cannot read ${f.name}`));
      rd.readAsText(f);
    });
  }

  // A P-256 signature as the peer checks it: DER, low S (as Fabric requires).
  function ecdsaRawToDer(raw) {
    const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    const big = (b) => BigInt(`0x${R.bytesToHex(b)}`);
    const r = big(raw.subarray(0, 32));
    let s = big(raw.subarray(32));
    if (s > n / 2n) s = n - s;
    const int = (v) => {
      let h = v.toString(16); if (h.length % 2) h = `0${h}`;
      let b = R.hexToBytes(h);
      if (b[0] & 0x80) b = R.concat(Uint8Array.of(0), b);
      return R.concat(Uint8Array.of(2, b.length), b);
    };
    const body = R.concat(int(r), int(s));
    return R.concat(Uint8Array.of(0x30, body.length), body);
  }

  async function signChallenge(keyPem, message) {
    const { label, der } = R.pemToDer(keyPem);
    if (label !== 'PRIVATE KEY') throw new Error(`the key file holds a ${label}, not a PKCS#8 PRIVATE KEY`);
    const isEd = R.bytesToHex(der).includes('06032b6570');
    const alg = isEd ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' };
    // Not extractable, and dropped when this function returns.
    const key = await crypto.subtle.importKey('pkcs8', der, alg, false, ['sign']);
    const sig = new Uint8Array(await crypto.subtle.sign(isEd ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' }, key, message));
    return isEd ? sig : ecdsaRawToDer(sig);
  }

  async function login(ev) {
    ev.preventDefault();
    $('#login-error').textContent = '';
    try {
      const [keyPem, certPem] = await Promise.all([readFile($('#key-file')), readFile($('#cert-file'))]);
      const { challenge } = await get('/console/challenge');
      const message = R.concat(new TextEncoder().encode('cairn-console-login-v1\0'), R.hexToBytes(challenge));
      const signature = R.bytesToHex(await signChallenge(keyPem, message));
      $('#key-file').value = '';
      await post('/console/login', { certificate: certPem, challenge, signature });
      await start();
    } catch (e) {
      $('#login-error').textContent = `login failed: ${e.message}`;
    }
  }

  async function logout() {
    await api('/console/logout', { method: 'POST' }).catch(() => {});
    state.me = null;
    showLogin();
  }

  function showLogin() {
    $('#login').hidden = false; $('#app').hidden = true; $('#whoami').textContent = '';
  }

  async function start() {
    try { state.me = await get('/console/session'); } catch (_) { showLogin(); return; }
    state.channels = await get('/api/v1/channels');
    $('#login').hidden = true; $('#app').hidden = false;
    $('#whoami').textContent = `${state.me.subject} (${state.me.msp_id}, ${state.me.role}) on the peer of ${state.me.peer_msp_id}`;
    $('#whoami').dataset.msp = state.me.msp_id;
    route();
  }

  // ---- pages ----
  function defaultChannel() { return state.channels[0] ? state.channels[0].name : ''; }

  async function networkPage() {
    const rows = [];
    for (const c of state.channels) {
      const cfg = await config(c.name);
      let orderers = [];
      try { orderers = await get(`${ch(c.name)}/orderers`); } catch (e) { orderers = [{ error: e.message }]; }
      rows.push(el('section', {},
        el('h3', {}, `channel `, link(`#/channel/${c.name}`, c.name), ` — height ${c.height} on this peer`),
        el('p', {}, `orgs: ${c.orgs.join(', ')}; orderer orgs: ${cfg.orderer_orgs.join(', ')}; pulling from ${c.orderer || '—'}`),
        el('table', { class: 'orderers' }, el('tr', {}, ['Raft id', 'org', 'url', 'height', 'leader', 'term'].map((h) => el('th', { text: h }))),
          orderers.map((o) => (o.error ? el('tr', {}, el('td', { colspan: 6, text: o.error })) : el('tr', { 'data-leader': String(o.is_leader) },
            el('td', { text: o.id }), el('td', { text: o.msp_id }), el('td', { text: o.url }),
            el('td', { text: o.height ?? '—' }), el('td', { text: o.is_leader ? 'leader' : (o.error || '') }), el('td', { text: o.term ?? '' }))))),
      ));
    }
    let peers = [];
    try { peers = await get('/api/v1/peers'); } catch (e) { peers = [{ msp_id: '?', error: e.message, heights: [] }]; }
    const peerTable = el('table', { class: 'peers' }, el('tr', {}, ['org', 'peer', 'heights (channel: blocks)'].map((h) => el('th', { text: h }))),
      peers.map((p) => el('tr', { 'data-msp': p.msp_id, 'data-ok': String(!p.error) }, el('td', { text: p.msp_id }),
        el('td', { text: p.this_peer ? 'this peer' : p.url }),
        el('td', { text: p.error || p.heights.map(([c, h]) => `${c}: ${h}`).join(', ') }))));
    main(el('h2', { text: 'Network' }),
      el('p', {}, `This peer: ${state.me.peer} (${state.me.peer_msp_id}).`),
      el('h3', { text: 'Peers' }), peerTable, el('h3', { text: 'Ordering service' }), ...rows);
  }

  async function channelPage(name) {
    const cfg = await config(name);
    const orgs = [];
    for (const o of cfg.orgs) orgs.push(el('tr', { 'data-msp': o.msp_id }, el('td', { text: o.msp_id }), el('td', { class: 'hash', text: await fingerprint(o.ca_pem) }), el('td', { text: cfg.orderer_orgs.includes(o.msp_id) ? 'yes' : '' }), el('td', { text: (o.revoked || []).length })));
    main(el('h2', { text: `Channel ${name}` }),
      el('p', {}, `configuration sequence ${cfg.sequence}; `, link(`#/blocks/${name}`, 'blocks')),
      el('h3', { text: 'Organizations' }),
      el('table', { id: 'orgs' }, el('tr', {}, ['MSP id', 'CA certificate SHA-256', 'orders', 'revoked'].map((h) => el('th', { text: h }))), orgs),
      el('h3', { text: 'Policies' }),
      el('table', {}, Object.entries(cfg.policies).map(([k, v]) => el('tr', {}, el('td', { text: k }), el('td', { text: v })))),
      el('h3', { text: 'Ordering' }),
      el('pre', { text: JSON.stringify({ batch: cfg.batch, orderers: cfg.orderers, attestation: cfg.attestation }, null, 2) }));
  }

  async function blocksPage(name, from) {
    const info = await get(ch(name));
    const top = from === undefined ? info.height - 1 : Number(from);
    const rows = [];
    for (let n = top; n >= 0 && n > top - 10; n--) {
      const b = await get(`${ch(name)}/blocks/${n}`);
      const txs = b.block.data.map((d, i) => {
        let id = '?';
        try { id = R.envelopeTxid(R.hexToBytes(d)).txid; } catch (_) { /* shown as ? */ }
        return el('div', {}, link(`#/tx/${name}/${id}`, short(id)), ' ', el('span', { class: `code ${b.validation_codes[i]}`, text: b.validation_codes[i] }));
      });
      rows.push(el('tr', {}, el('td', {}, link(`#/block/${name}/${n}`, String(n))), el('td', { class: 'hash', text: short(b.hash) }), el('td', {}, txs)));
    }
    main(el('h2', { text: `Blocks of ${name}` }), el('p', { text: `height ${info.height}` }),
      el('table', {}, el('tr', {}, ['block', 'header hash', 'transactions (validation code)'].map((h) => el('th', { text: h }))), rows),
      top - 10 >= 0 ? link(`#/blocks/${name}/${top - 10}`, 'older blocks') : '');
  }

  async function blockPage(name, n) {
    const b = await get(`${ch(name)}/blocks/${n}`);
    main(el('h2', { text: `Block ${n} of ${name}` }), el('p', { class: 'hash', text: `header hash ${b.hash}` }),
      el('pre', { text: JSON.stringify(b.block.header, null, 2) }),
      el('ul', {}, b.block.data.map((d, i) => {
        let id = '?';
        try { id = R.envelopeTxid(R.hexToBytes(d)).txid; } catch (_) { /* shown as ? */ }
        return el('li', {}, link(`#/tx/${name}/${id}`, id), ' ', el('span', { class: `code ${b.validation_codes[i]}`, text: b.validation_codes[i] }));
      })));
  }

  function checkList(result) {
    return el('ul', { class: 'checks' }, result.checks.map((c) => el('li', { class: c.ok ? 'pass' : 'fail', 'data-ok': String(c.ok) }, `${c.ok ? '✔' : '✘'} ${c.name}: ${c.detail}`)));
  }

  async function verifyTx(channel, txid) {
    const receipt = await get(`${ch(channel)}/transactions/${txid}/receipt`);
    return R.verify(receipt, await trustedCas(channel), txid);
  }

  async function txPage(name, txid) {
    const w = await get(`${ch(name)}/transactions/${txid}/writes`);
    const v = await verifyTx(name, txid);
    main(el('h2', { text: `Transaction ${short(txid)}` }),
      el('p', { class: 'hash', text: txid }),
      el('p', {}, `block `, link(`#/block/${name}/${w.block}`, String(w.block)), ` · code `, el('span', { class: `code ${w.code}`, text: w.code }),
        ` · by ${w.creator} (${w.creator_msp_id}) · ${w.contract || 'configuration'} ${w.function || ''} · endorsed by ${w.endorsers.join(', ') || '—'}`),
      el('h3', { text: 'Receipt, checked in this page' }),
      el('p', { class: 'trust', 'data-source': state.userCas ? 'files' : 'config', text: state.userCas ? 'against the CA files you loaded on the provenance page' : 'against the orderer org CAs of the channel configuration (served by this peer)' }),
      el('div', { id: 'tx-receipt', 'data-txid': txid, 'data-verified': String(v.ok) }, checkList(v)),
      el('h3', { text: 'Public writes' }),
      el('table', {}, w.public.map((p) => el('tr', {}, el('td', { text: p.namespace }), el('td', { text: p.key.replace(/\u0000/g, '·') }), el('td', { class: 'value', text: p.delete ? '(deleted)' : (p.value.text ?? `hex ${p.value.hex}`) })))),
      el('h3', { text: 'Private writes: hashes on the ledger' }),
      el('table', { id: 'private-hashes' }, w.private_hashes.map((p) => el('tr', {}, el('td', { text: `${p.namespace}/${p.collection}` }), el('td', { class: 'hash', text: `key ${p.key_hash}` }), el('td', { class: 'hash', text: `value ${p.value_hash}` })))),
      el('h3', { text: 'Private values your org may read (member collections only)' }),
      await privateValues(w));
  }

  // Each cleartext value is hashed here and matched to the ledger's hashes.
  async function privateValues(w) {
    if (w.private_values.length === 0) return el('p', { id: 'private-values', 'data-count': '0', text: 'none: your org is not a member of these collections (or there are none)' });
    const hex = async (text) => R.bytesToHex(await R.sha256(new TextEncoder().encode(text)));
    const rows = [];
    for (const p of w.private_values) {
      const kh = await hex(p.key);
      const bytes = p.value.text !== undefined ? new TextEncoder().encode(p.value.text) : R.hexToBytes(p.value.hex);
      const vh = R.bytesToHex(await R.sha256(bytes));
      const ok = w.private_hashes.some((h) => h.collection === p.collection && h.key_hash === kh && h.value_hash === vh);
      rows.push(el('tr', { 'data-matches': String(ok) }, el('td', { text: `${p.namespace}/${p.collection}` }), el('td', { text: p.key.replace(/\u0000/g, '·') }),
        el('td', { class: 'value', text: p.delete ? '(deleted)' : (p.value.text ?? `hex ${p.value.hex}`) }),
        el('td', { class: ok ? 'pass' : 'fail', text: ok ? '✔ matches the ledger hash' : '✘ no matching hash' })));
    }
    return el('table', { id: 'private-values', 'data-count': String(rows.length) }, rows);
  }

  async function contractsPage(name) {
    const channel = name || defaultChannel();
    const defs = JSON.parse(await evaluate(channel, '_lifecycle', 'QueryChaincodeDefinitions', []));
    const collections = (d) => el('ul', {}, d.collections.map((c) => el('li', { 'data-collection': c.name },
      `${c.name}: members ${c.policy}; ${c.memberOnlyRead ? 'members only read' : 'anyone may read'}; required peers ${c.requiredPeerCount}; blockToLive ${c.blockToLive || 'never purged'}`)));
    main(el('h2', { text: `Contracts committed on ${channel}` }),
      el('table', {}, el('tr', {}, ['name', 'version', 'sequence', 'endorsement policy', 'init required', 'private data collections'].map((h) => el('th', { text: h }))),
        defs.map((d) => el('tr', { 'data-contract': d.name }, el('td', { text: d.name }), el('td', { text: d.version }), el('td', { text: d.sequence }),
          el('td', { text: d.endorsement_policy || "the channel's Endorsement policy" }), el('td', { text: d.init_required ? 'yes' : 'no' }),
          el('td', {}, collections(d))))));
  }

  async function channelsPage() {
    main(el('h2', { text: 'Channels this identity may read on this peer' }),
      el('table', {}, el('tr', {}, ['channel', 'height', 'config sequence', 'orgs', 'pulling from'].map((h) => el('th', { text: h }))),
        state.channels.map((c) => el('tr', {}, el('td', {}, link(`#/channel/${c.name}`, c.name)), el('td', {}, link(`#/blocks/${c.name}`, String(c.height))),
          el('td', { text: c.config_sequence }), el('td', { text: c.orgs.join(', ') }), el('td', { text: c.orderer || '—' })))));
  }

  // ---- provenance ----
  function provenanceForm(unit) {
    const form = el('form', { id: 'provenance-form' },
      el('label', {}, 'channel ', el('select', { id: 'prov-channel' }, state.channels.map((c) => el('option', { value: c.name, text: c.name })))),
      el('label', {}, ' contract ', el('input', { id: 'prov-contract', value: 'supply-chain', size: 14 })),
      el('label', {}, ' unit ', el('input', { id: 'unit-id', value: unit || '', size: 16 })),
      el('button', { id: 'show-provenance', type: 'submit', text: 'Show provenance' }));
    form.addEventListener('submit', (e) => { e.preventDefault(); location.hash = `#/provenance/${$('#prov-channel').value}/${$('#prov-contract').value}/${$('#unit-id').value.trim()}`; });
    return form;
  }

  async function termsView(channel, contract, shipment) {
    const box = el('div', { class: 'terms', 'data-shipment': shipment.id, 'data-collection': shipment.termsCollection });
    const created = shipment.steps[0];
    let hashes = [];
    try { hashes = (await get(`${ch(channel)}/transactions/${created.txid}/writes`)).private_hashes.filter((p) => p.collection === shipment.termsCollection); } catch (_) { /* shown below */ }
    const hash = hashes[0] ? hashes[0].value_hash : null;
    try {
      const text = await evaluate(channel, contract, 'GetTerms', [shipment.id]);
      const matches = hash && R.bytesToHex(await R.sha256(new TextEncoder().encode(text))) === hash;
      box.append(el('span', { class: 'terms-value', 'data-matches': String(!!matches) }, `terms (${shipment.termsCollection}, your org is a member): ${text}`),
        el('span', { class: matches ? 'pass' : 'fail' }, matches ? ' ✔ hashes to the value hash on the ledger' : ' ✘ does not match the ledger hash'));
    } catch (e) {
      box.append(el('span', { class: 'terms-hash' }, `terms private to ${shipment.from} and ${shipment.to} (${shipment.termsCollection}); on the ledger only the value hash ${hash || '(not found)'}`),
        el('div', { class: 'why' }, `the peer refused the value: ${e.message}`));
    }
    return box;
  }

  function trustControl() {
    const input = el('input', { type: 'file', id: 'ca-files', multiple: 'multiple', accept: '.pem,.crt' });
    input.addEventListener('change', async () => {
      const list = [];
      for (const f of input.files) list.push({ msp_id: f.name, ca_pem: await f.text() });
      state.userCas = list.length ? list : null;
      route();
    });
    const reset = el('button', { type: 'button', id: 'ca-reset', text: 'use the channel configuration' });
    reset.addEventListener('click', () => { state.userCas = null; route(); });
    return el('div', { class: 'trust-control' }, el('label', {}, 'check receipts against orderer CA files of your own instead: ', input), reset);
  }

  async function provenancePage(channel, contract, unit) {
    const status = el('p', { id: 'provenance-status', 'data-state': 'loading', text: 'loading…' });
    main(el('h2', { text: 'Provenance' }), provenanceForm(unit), trustControl(), status, el('div', { id: 'provenance' }));
    if (channel) $('#prov-channel').value = channel;
    if (contract) $('#prov-contract').value = contract;
    if (!unit) { status.textContent = 'enter a unit id'; status.dataset.state = 'idle'; return; }
    let p;
    try { p = JSON.parse(await evaluate(channel, contract, 'GetProvenance', [unit])); } catch (e) { status.textContent = `cannot read the provenance of ${unit}: ${e.message}`; status.dataset.state = 'error'; return; }
    const byTx = new Map();
    const add = (kind, rec) => rec.steps.forEach((s) => {
      const e = byTx.get(s.txid) || { at: s.at, org: s.org, role: s.role, txid: s.txid, what: [] };
      e.what.push(`${kind} ${rec.id}: ${s.step}${s.shipment ? ` (shipment ${s.shipment})` : ''}${s.unit ? ` (into unit ${s.unit})` : ''}${s.saleId ? ` (sale ${s.saleId})` : ''}`);
      byTx.set(s.txid, e);
    });
    p.batches.forEach((b) => add('batch', b));
    p.shipments.forEach((s) => add('shipment', s));
    add('unit', p.unit);
    const steps = [...byTx.values()].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const cas = await trustedCas(channel);
    const trust = [];
    for (const c of cas) trust.push(`${c.msp_id} ${short(await fingerprint(c.ca_pem).catch(() => 'unreadable'))}`);
    const list = el('ol', { id: 'timeline' });
    let verified = 0;
    const started = performance.now();
    for (const s of steps) {
      let v;
      try { v = await R.verify(await get(`${ch(channel)}/transactions/${s.txid}/receipt`), cas, s.txid); } catch (e) { v = { ok: false, checks: [{ name: 'receipt', ok: false, detail: e.message }] }; }
      const valid = v.ok && v.code === 0;
      if (valid) verified += 1;
      list.append(el('li', { class: 'step', 'data-txid': s.txid, 'data-verified': String(valid) },
        el('div', { class: 'when' }, `${s.at} · ${s.org} (${s.role})`),
        el('ul', {}, s.what.map((w) => el('li', { text: w }))),
        el('div', {}, link(`#/tx/${channel}/${s.txid}`, `tx ${short(s.txid)}`), ' ',
          el('span', { class: valid ? 'receipt pass' : 'receipt fail' }, valid ? 'receipt verified in this page (VALID)' : 'receipt NOT verified')),
        el('details', {}, el('summary', { text: 'checks' }), checkList(v))));
    }
    const terms = el('div', { id: 'terms' }, el('h3', { text: 'Private terms of the shipments' }));
    for (const s of p.shipments.filter((x) => x.termsCollection)) terms.append(await termsView(channel, contract, s));
    $('#provenance').replaceChildren(
      el('p', { class: 'trust', 'data-source': state.userCas ? 'files' : 'config', text: `receipts checked against ${state.userCas ? 'the CA files you loaded' : 'the orderer org CAs of the channel configuration (served by this peer)'}: ${trust.join('; ')}` }),
      list, terms);
    status.dataset.steps = String(steps.length);
    status.dataset.verified = String(verified);
    status.dataset.ms = String(Math.round(performance.now() - started));
    status.dataset.state = 'done';
    status.textContent = `${p.unit.product || ''} unit ${unit}: ${steps.length} step(s), ${verified} receipt(s) verified in this page (${status.dataset.ms} ms, fetching included)`;
  }

  // Pages render one after another, and only the latest asked for: a slow
  // page finishing late must not overwrite the one navigated to after it.
  let routing = Promise.resolve();
  let wanted = 0;
  function route() {
    const mine = ++wanted;
    routing = routing.then(() => (mine === wanted ? render() : undefined));
    return routing;
  }

  async function render() {
    if (!state.me) return;
    const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
    const [page, a, b, c] = parts;
    try {
      if (page === 'channels') { state.channels = await get('/api/v1/channels'); await channelsPage(); } else if (page === 'channel') await channelPage(a);
      else if (page === 'blocks') await blocksPage(a || defaultChannel(), b);
      else if (page === 'block') await blockPage(a, b);
      else if (page === 'tx') await txPage(a, b);
      else if (page === 'contracts') await contractsPage(a);
      else if (page === 'provenance') await provenancePage(a || defaultChannel(), b || 'supply-chain', c);
      else await networkPage();
    } catch (e) {
      main(el('p', { class: 'fail', id: 'page-error', text: `error: ${e.message}` }));
      if (e.status === 401) showLogin();
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('#login-form').addEventListener('submit', login);
    $('#logout').addEventListener('click', logout);
    window.addEventListener('hashchange', route);
    start();
  });
})();
