// A client program an integrator would write: openapi-fetch typed by openapi-typescript's
// output for /api/schema/. tests/clients/test_typescript_client.py generates ./schema.d.ts
// and ./config.ts beside it, type-checks it (tsc --noEmit, strict) and runs it with node.
import createClient from "openapi-fetch";

import { BASE_URL, RUN, TOKEN } from "./config.js";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

const client = createClient<paths>({ baseUrl: BASE_URL, headers: { Authorization: `Token ${TOKEN}` } });

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function isInsufficientStock(body: unknown): body is Schemas["InsufficientStockError"] {
  return typeof body === "object" && body !== null && (body as { code?: unknown }).code === "insufficient_stock";
}

function isPartsNotFound(body: unknown): body is Schemas["PartsNotFoundError"] {
  return typeof body === "object" && body !== null && "missing_ids" in body;
}

function isInvalidTransition(body: unknown): body is Schemas["InvalidTransitionError"] {
  return typeof body === "object" && body !== null && (body as { code?: unknown }).code === "invalid_transition";
}

const sku = `T-STL-M${RUN}-10`;
const created = await client.POST("/api/v1/items", {
  body: { name: "TypeScript bolt", sku, price: "2.50", stock: 5, category_id: null },
});
check(created.data !== undefined, `create a part: ${JSON.stringify(created.error)}`);
const part: Schemas["SparePart"] = created.data;
const category: Schemas["CategorySummary"] | null = part.category;
check(category === null, "a part created without a category has none");

const listed = await client.GET("/api/v1/items", {
  params: { query: { min_price: "2.00", max_price: "3.00", ordering: "-price", limit: 10 } },
});
check(listed.data?.results.some((each) => each.sku === sku) === true, "the price filter finds the part");

// An integer request_id, and the order's integer id passed back as a path parameter.
const order_body = { request_id: RUN, client_email: "", items: [{ spare_part_id: part.id, quantity: 2 }] };
const placed = await client.POST("/api/v1/orders", { body: order_body });
check(placed.data !== undefined && placed.response.status === 201, `place: ${JSON.stringify(placed.error)}`);
const order: Schemas["ServiceOrder"] = placed.data;
const read = await client.GET("/api/v1/orders/{id}", { params: { path: { id: order.id } } });
check(read.data?.id === order.id && read.data.items.length === 1, "read the order back by its id");
const replay = await client.POST("/api/v1/orders", { body: order_body });
check(replay.response.headers.get("Idempotent-Replayed") === "true" && replay.data?.id === order.id, "replay");

const short = await client.POST("/api/v1/orders", {
  body: { request_id: `short-${RUN}`, items: [{ spare_part_id: part.id, quantity: 100 }] },
});
check(short.response.status === 409 && isInsufficientStock(short.error), `409: ${JSON.stringify(short.error)}`);
const available: number = short.error.available;

const unknown = await client.POST("/api/v1/orders", {
  body: { request_id: `unknown-${RUN}`, items: [{ spare_part_id: 987654321, quantity: 1 }] },
});
check(unknown.response.status === 404 && isPartsNotFound(unknown.error), `404: ${JSON.stringify(unknown.error)}`);
const missing: number[] = unknown.error.missing_ids;

const skipped = await client.PATCH("/api/v1/orders/{id}", {
  params: { path: { id: order.id } },
  body: { status: "completed" },
});
check(skipped.response.status === 409 && isInvalidTransition(skipped.error), "pending cannot complete");
const allowed: string[] = skipped.error.allowed;

const cancelled = await client.PATCH("/api/v1/orders/{id}", {
  params: { path: { id: order.id } },
  body: { status: "cancelled" },
});
check(cancelled.data?.status === "cancelled", "cancel");
const after = await client.GET("/api/v1/items/{sku}", { params: { path: { sku } } });
check(after.data !== undefined, "read the part");

console.log(JSON.stringify({ order: order.id, available, missing, allowed, stock: after.data.stock }));
