// Runs a Segment Destination Function as Segment's runtime does, for the tests.
//
//   node function_harness.mjs FUNCTION_FILE SETTINGS EVENTS
//
// The file is evaluated as a script in a context of its own whose globals are those the
// runtime gives a function: fetch, btoa, atob, crypto (Node's module), console, URL and the
// error types RetryError, ValidationError, InvalidEventPayload and EventNotSupported. Each
// event of EVENTS (a JSON list) goes to the handler named after its type (onIdentify,
// onTrack, onDelete, ...); a type without a handler gets EventNotSupported, as in the runtime.
// Prints one JSON line: a list of {"ok": true, "result": ...} or {"error": NAME, "message": ...}.

import { readFileSync } from "node:fs";
import nodeCrypto from "node:crypto";
import vm from "node:vm";

class RetryError extends Error {
  name = "RetryError";
}
class ValidationError extends Error {
  name = "ValidationError";
}
class InvalidEventPayload extends Error {
  name = "InvalidEventPayload";
}
class EventNotSupported extends Error {
  name = "EventNotSupported";
}

const HANDLERS = {
  identify: "onIdentify",
  track: "onTrack",
  page: "onPage",
  screen: "onScreen",
  group: "onGroup",
  alias: "onAlias",
  delete: "onDelete",
};

const [file, settingsJson, eventsJson] = process.argv.slice(2);
const settings = JSON.parse(settingsJson);
const events = JSON.parse(eventsJson);

const context = vm.createContext({
  fetch,
  btoa,
  atob,
  crypto: nodeCrypto,
  console,
  URL,
  RetryError,
  ValidationError,
  InvalidEventPayload,
  EventNotSupported,
});
vm.runInContext(readFileSync(file, "utf8"), context, { filename: file });

const outcomes = [];
for (const event of events) {
  const name = HANDLERS[String(event.type).toLowerCase()];
  const handler = name && typeof context[name] === "function" ? context[name] : null;
  try {
    if (!handler) throw new EventNotSupported(`${event.type} is not supported`);
    const result = await handler(event, settings);
    outcomes.push({ ok: true, result: result ?? null });
  } catch (error) {
    outcomes.push({ error: error?.name ?? "Error", message: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(outcomes) + "\n");
