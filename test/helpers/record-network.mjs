// Preloaded with `node --import` (it is inherited by worker threads): records every attempt to reach
// the network (TCP/UDP connects, DNS lookups, fetch) to the file in EMSEG_NETWORK_LOG and refuses it.
// Unix-socket and pipe connections are local and pass.
import { appendFileSync } from 'node:fs';
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';

const log = process.env.EMSEG_NETWORK_LOG;
function refuse(kind, target) {
  if (log) appendFileSync(log, `${process.pid} ${kind} ${target}\n`);
  return new Error(`network access refused in this test (${kind} ${target})`);
}
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const o = args[0];
  const path = typeof o === 'string' ? o : Array.isArray(o) ? o[0]?.path : o?.path;
  if (typeof path === 'string' && !(typeof o === 'object' && (o.port !== undefined || o.host !== undefined))) return connect.apply(this, args);
  const t = Array.isArray(o) ? o[0] : o;
  throw refuse('connect', typeof t === 'object' ? `${t.host ?? t.hostname}:${t.port}` : `${args[1] ?? 'localhost'}:${t}`);
};
for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6', 'resolveAny']) {
  dns[name] = (host) => { throw refuse(`dns.${name}`, host); };
  dns.promises[name] = async (host) => { throw refuse(`dns.promises.${name}`, host); };
}
dgram.Socket.prototype.send = function () { throw refuse('udp', 'send'); };
globalThis.fetch = async (input) => { throw refuse('fetch', String(input?.url ?? input)); };
