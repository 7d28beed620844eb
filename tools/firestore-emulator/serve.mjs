#!/usr/bin/env node
// Launcher for the in-memory Firestore emulator (@firestore-emulator/server) used by the Python tests.
//
//   node tools/firestore-emulator/serve.mjs --port N [--host 127.0.0.1] [--admin-port M]
//
// Prints exactly one line "firestore emulator listening on HOST:PORT" on stdout once the gRPC
// port is bound (with --port 0 the OS picks the port and the line carries the real one).
// With --admin-port, a tiny HTTP server on the same host mirrors the official emulator's reset
// endpoint:  DELETE /emulator/v1/projects/{project}/databases/{database}/documents  -> 200 "{}"
// (it wipes the whole in-memory state, every project). Exits cleanly on SIGTERM / SIGINT.
import http from "node:http";
import { parseArgs } from "node:util";

import { FirestoreServer } from "@firestore-emulator/server";
import { ServerCredentials } from "@grpc/grpc-js";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    "admin-port": { type: "string" },
  },
  strict: true,
});

const parsePort = (raw, name) => {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve.mjs: invalid --${name}: ${raw}`);
    process.exit(2);
  }
  return port;
};

if (values.port === undefined) {
  console.error("usage: node serve.mjs --port N [--host 127.0.0.1] [--admin-port M]");
  process.exit(2);
}
const port = parsePort(values.port, "port");
const host = values.host;

const emulator = new FirestoreServer();

// FirestoreServer.start() always binds 0.0.0.0 and hides the bound port. The underlying
// @grpc/grpc-js Server is a TypeScript-private (so runtime-visible) field; bind it ourselves on
// the requested host, falling back to start() if a future version renames the field.
const grpcServer = emulator.server;
const boundPort = await new Promise((resolve, reject) => {
  if (grpcServer && typeof grpcServer.bindAsync === "function") {
    // package.json pins @grpc/grpc-js to the exact version the emulator depends on, so npm dedupes
    // it and this ServerCredentials is the same class the emulator's Server expects.
    grpcServer.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, actual) =>
      err ? reject(err) : resolve(actual),
    );
  } else {
    emulator.start(port).then(() => resolve(port), reject);
  }
}).catch((err) => {
  console.error(`serve.mjs: cannot bind ${host}:${port}: ${err?.message ?? err}`);
  process.exit(1);
});

let adminServer = null;
if (values["admin-port"] !== undefined) {
  const adminPort = parsePort(values["admin-port"], "admin-port");
  const resetPath = /^\/emulator\/v1\/projects\/[^/]+\/databases\/[^/]+\/documents\/?$/;
  adminServer = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method === "DELETE" && resetPath.test(path)) {
      emulator.state.clear();
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      return;
    }
    if (req.method === "GET" && path === "/") {
      res.writeHead(200, { "content-type": "text/plain" }).end("Ok\n");
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  });
  await new Promise((resolve, reject) => {
    adminServer.once("error", reject);
    adminServer.listen(adminPort, host, resolve);
  }).catch((err) => {
    console.error(`serve.mjs: cannot bind admin ${host}:${adminPort}: ${err?.message ?? err}`);
    process.exit(1);
  });
}

let stopping = false;
const shutdown = (signal) => {
  if (stopping) return;
  stopping = true;
  emulator.stop();
  if (adminServer) adminServer.close();
  console.error(`firestore emulator stopped (${signal})`);
  process.exit(0);
};
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));

const adminNote = adminServer ? ` (admin http on ${host}:${adminServer.address().port})` : "";
process.stdout.write(`firestore emulator listening on ${host}:${boundPort}${adminNote}\n`);
