// Sends Segment calls to a Tracking API host with a real Node library, then flushes.
//
//   node send.mjs LIBRARY HOST WRITE_KEY CALLS [OPTIONS]
//
// LIBRARY is "segment" (@segment/analytics-node) or "rudderstack"
// (@rudderstack/rudder-sdk-node). CALLS is a JSON list of {"method": "identify" | "track" |
// "page" | "group" | "alias" | "screen", "params": {...}}, params as the library takes them.
// OPTIONS is a JSON object: {"gzip": true | false} (RudderStack only: Segment's library
// does not compress). Every call is queued at once, so the library sends them together in
// as few /v1/batch requests as it can. Prints {"delivered": n, "errors": [...]} and exits
// with 1 when a call was not delivered.

import { Analytics as SegmentAnalytics } from "@segment/analytics-node";
import RudderAnalytics from "@rudderstack/rudder-sdk-node";

const [library, host, writeKey, callsJson, optionsJson] = process.argv.slice(2);
const calls = JSON.parse(callsJson);
const options = JSON.parse(optionsJson || "{}");
const errors = [];

function segmentClient() {
  const client = new SegmentAnalytics({
    writeKey,
    host,
    flushAt: calls.length,
    flushInterval: 100,
    maxRetries: 5,
    httpRequestTimeout: 30000,
  });
  client.on("error", (error) => errors.push(`error event: ${error?.code ?? ""} ${error}`));
  return {
    send: (method, params) =>
      new Promise((resolve) => client[method](params, (error) => resolve(error))),
    close: () => client.closeAndFlush({ timeout: 60000 }),
  };
}

function rudderClient() {
  const client = new RudderAnalytics(writeKey, {
    dataPlaneUrl: host,
    flushAt: calls.length,
    flushInterval: 100,
    retryCount: 5,
    gzip: options.gzip !== false,
    logLevel: "error",
    errorHandler: (error) => errors.push(`errorHandler: ${error}`),
  });
  return {
    send: (method, params) =>
      new Promise((resolve) => client[method](params, (error) => resolve(error))),
    close: () => client.flush(),
  };
}

const client = library === "segment" ? segmentClient() : rudderClient();
const delivered = calls.map(({ method, params }) => client.send(method, params));
await client.close();
const outcomes = await Promise.all(delivered);
outcomes.forEach((error, index) => {
  if (error) errors.push(`call ${index} (${calls[index].method}): ${error}`);
});
process.stdout.write(
  JSON.stringify({ delivered: outcomes.filter((error) => !error).length, errors }) + "\n",
);
process.exit(errors.length ? 1 : 0);
