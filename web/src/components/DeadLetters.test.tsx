// @vitest-environment jsdom
// @vitest-environment-options {"url": "http://127.0.0.1:48191/"}
/**
 * The dead-letter panel against a small local HTTP server speaking the webhook-deliveries contract: it
 * lists dead letters, retries one with the CSRF header, and shows the server's error when a retry fails.
 */
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { setCsrfToken } from "../api/client";
import { DeadLetters } from "./DeadLetters";

const PORT = 48191;
const CSRF = "csrf-dead-letters";

function delivery(id: number, subject: string) {
  return {
    id,
    webhook: "fire-panel",
    event: "incident.created",
    subject_id: subject,
    state: "dead",
    attempts: 8,
    last_error: "HTTP 500",
    last_status: 500,
    created_at: "2026-11-26T12:00:00Z",
    updated_at: "2026-11-26T12:10:00Z",
    next_attempt_at: "2026-11-26T12:10:00Z",
  };
}

let dead = [delivery(7, "inc-seven"), delivery(8, "inc-eight")];
let failRetry = false;
const retries: { id: string; csrf: string | undefined }[] = [];
let server: Server;

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", `http://127.0.0.1:${PORT}`);
  if (url.pathname === "/api/webhooks/deliveries" && req.method === "GET") {
    expect(url.searchParams.get("state")).toBe("dead");
    reply(res, 200, { items: dead, total: dead.length });
    return;
  }
  const match = /^\/api\/webhooks\/deliveries\/(\d+)\/retry$/.exec(url.pathname);
  if (match && req.method === "POST") {
    const csrf = req.headers["x-csrf-token"];
    retries.push({ id: match[1] ?? "", csrf: typeof csrf === "string" ? csrf : undefined });
    if (failRetry) {
      reply(res, 400, { error: { code: "not_a_dead_letter", message: "delivery 8 is pending, not a dead letter" } });
      return;
    }
    const found = dead.find((item) => String(item.id) === match[1]);
    dead = dead.filter((item) => item !== found);
    reply(res, 200, { ...found, state: "pending", attempts: 0 });
    return;
  }
  reply(res, 404, { error: { code: "not_found", message: "no such route" } });
}

beforeAll(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(PORT, "127.0.0.1", resolve));
  setCsrfToken(CSRF);
});

afterAll(async () => {
  setCsrfToken(null);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterEach(cleanup);

describe("DeadLetters", () => {
  it("lists dead letters and retries one with the CSRF header", async () => {
    render(<DeadLetters />);
    expect(await screen.findAllByTestId("dead-letter")).toHaveLength(2);
    expect(screen.getByText("2 deliveries failed every attempt.")).toBeTruthy();
    expect(screen.getByText(/inc-seven/).textContent).toContain("HTTP 500");
    const [first] = screen.getAllByRole("button", { name: "Retry" });
    if (!first) throw new Error("no retry button");
    fireEvent.click(first);
    await waitFor(() => expect(screen.getAllByTestId("dead-letter")).toHaveLength(1));
    expect(retries).toEqual([{ id: "7", csrf: CSRF }]);
    expect(screen.getByText("1 delivery failed every attempt.")).toBeTruthy();
  });

  it("shows why a retry was refused and keeps the item", async () => {
    failRetry = true;
    render(<DeadLetters />);
    const [button] = await screen.findAllByRole("button", { name: "Retry" });
    if (!button) throw new Error("no retry button");
    fireEvent.click(button);
    expect((await screen.findByRole("alert")).textContent).toBe("delivery 8 is pending, not a dead letter");
    expect(screen.getAllByTestId("dead-letter")).toHaveLength(1);
  });
});
