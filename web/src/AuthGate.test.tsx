// @vitest-environment jsdom
// @vitest-environment-options {"url": "http://127.0.0.1:48174/"}
/**
 * The login flow against a small local HTTP server speaking the auth contract: login page on 401,
 * wrong password, lockout with Retry-After, the console after sign-in, CSRF header on sign-out, and the
 * way back to the login page when the session ends.
 */
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { AuthGate, SESSION_ENDED, SIGNED_OUT } from "./AuthGate";
import { describeWait, retryAfterSeconds } from "./api/auth";

const PORT = 48174;
const CSRF = "csrf-token-123";
const ME = {
  username: "ops1",
  display_name: "Olive Operator",
  roles: [{ role: "operator", sites: ["hq"], cameras: [] }],
  permissions: ["cameras.view"],
};
const CAMERAS = [
  { id: "cam1", name: "Front door", site_id: "hq", position: null, status: { state: "streaming", since: new Date().toISOString(), reason: "" } },
];

interface Seen {
  method: string;
  path: string;
  csrf: string | undefined;
  body: string;
}

let signedIn = false;
let lockoutS: number | null = null;
let expireAfterLogin = false;
const seen: Seen[] = [];

function reply(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body === undefined ? "" : JSON.stringify(body));
}

const UNAUTHENTICATED = { error: { code: "unauthenticated", message: "sign in first" } };

function route(req: IncomingMessage, res: ServerResponse, body: string): void {
  const url = new URL(req.url ?? "/", `http://127.0.0.1:${PORT}`);
  const csrf = req.headers["x-csrf-token"];
  seen.push({ method: req.method ?? "", path: url.pathname, csrf: typeof csrf === "string" ? csrf : undefined, body });
  if (url.pathname === "/api/auth/login" && req.method === "POST") {
    if (lockoutS !== null) {
      return reply(res, 429, { error: { code: "too_many_attempts", message: "locked" } }, { "Retry-After": String(lockoutS) });
    }
    const { username, password } = JSON.parse(body) as { username: string; password: string };
    if (username !== "ops1" || password !== "s3cret-pass") {
      return reply(res, 401, { error: { code: "invalid_credentials", message: "invalid user name or password" } });
    }
    signedIn = !expireAfterLogin;
    return reply(res, 200, { user: ME, csrf_token: CSRF });
  }
  if (url.pathname === "/api/auth/logout" && req.method === "POST") {
    if (csrf !== CSRF) return reply(res, 403, { error: { code: "csrf_failed", message: "missing CSRF token" } });
    signedIn = false;
    res.writeHead(204);
    res.end();
    return;
  }
  if (!signedIn) return reply(res, 401, UNAUTHENTICATED);
  if (url.pathname === "/api/auth/me") return reply(res, 200, { ...ME, csrf_token: CSRF });
  if (url.pathname === "/api/health") return reply(res, 200, { status: "ok", version: "9.9.9" });
  if (url.pathname === "/api/cameras") return reply(res, 200, CAMERAS);
  if (url.pathname === "/api/events" || url.pathname === "/api/recordings") return reply(res, 200, []);
  return reply(res, 404, { error: { code: "not_found", message: "no such thing" } });
}

let server: Server;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => route(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  server.on("upgrade", (_req, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(PORT, "127.0.0.1", resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

afterEach(() => {
  cleanup();
  signedIn = false;
  lockoutS = null;
  expireAfterLogin = false;
  seen.length = 0;
});

function signIn(username: string, password: string): void {
  fireEvent.change(screen.getByTestId("login-username"), { target: { value: username } });
  fireEvent.change(screen.getByTestId("login-password"), { target: { value: password } });
  fireEvent.click(screen.getByTestId("login-submit"));
}

describe("login flow", () => {
  it("shows the login page, signs in, shows the user, and signs out with the CSRF token", async () => {
    render(<AuthGate />);
    await screen.findByTestId("login-form");
    expect(screen.queryByTestId("camera-list")).toBeNull();

    signIn("ops1", "s3cret-pass");
    expect((await screen.findByTestId("user-name")).textContent).toBe("Olive Operator");
    await waitFor(() => expect(screen.getAllByTestId("camera-item")).toHaveLength(1));
    const login = seen.find((r) => r.path === "/api/auth/login");
    expect(JSON.parse(login?.body ?? "{}")).toEqual({ username: "ops1", password: "s3cret-pass" });

    fireEvent.click(screen.getByTestId("logout"));
    await screen.findByTestId("login-form");
    expect(screen.getByText(SIGNED_OUT)).toBeTruthy();
    const logout = seen.find((r) => r.path === "/api/auth/logout");
    expect(logout?.method).toBe("POST");
    expect(logout?.csrf).toBe(CSRF);
    // GETs never carry the token.
    expect(seen.filter((r) => r.method === "GET").every((r) => r.csrf === undefined)).toBe(true);
  });

  it("opens the console directly when the session cookie is still valid", async () => {
    signedIn = true;
    render(<AuthGate />);
    expect((await screen.findByTestId("user-name")).textContent).toBe("Olive Operator");
    expect(screen.queryByTestId("login-form")).toBeNull();
  });

  it("says so when the password is wrong, and clears the password field", async () => {
    render(<AuthGate />);
    await screen.findByTestId("login-form");
    signIn("ops1", "nope");
    expect((await screen.findByTestId("login-error")).textContent).toBe("Wrong user name or password.");
    expect((screen.getByTestId("login-password") as HTMLInputElement).value).toBe("");
    expect(screen.queryByTestId("camera-list")).toBeNull();
  });

  it("asks for both fields before calling the server", async () => {
    render(<AuthGate />);
    await screen.findByTestId("login-form");
    fireEvent.click(screen.getByTestId("login-submit"));
    expect((await screen.findByTestId("login-error")).textContent).toContain("Enter your user name and password");
    expect(seen.some((r) => r.path === "/api/auth/login")).toBe(false);
  });

  it("shows a readable lockout message with the time to wait", async () => {
    lockoutS = 300;
    render(<AuthGate />);
    await screen.findByTestId("login-form");
    signIn("ops1", "s3cret-pass");
    const error = await screen.findByTestId("login-error");
    expect(error.textContent).toContain("Too many failed sign-in attempts. Try again in 5 minutes.");
    expect(error.textContent).toMatch(/\(at \d{1,2}:\d{2}/);
  });

  it("goes back to the login page when the session ends (401 from the API)", async () => {
    expireAfterLogin = true;
    render(<AuthGate />);
    await screen.findByTestId("login-form");
    signIn("ops1", "s3cret-pass");
    await screen.findByText(SESSION_ENDED);
    expect(screen.getByTestId("login-form")).toBeTruthy();
    expect(screen.queryByTestId("user-name")).toBeNull();
  });
});

describe("Retry-After", () => {
  it("reads seconds and HTTP dates", () => {
    expect(retryAfterSeconds("120")).toBe(120);
    expect(retryAfterSeconds(null)).toBeNull();
    expect(retryAfterSeconds("soon")).toBeNull();
    const now = Date.parse("2024-01-01T00:00:00Z");
    expect(retryAfterSeconds("Mon, 01 Jan 2024 00:01:00 GMT", now)).toBe(60);
  });

  it("describes waits in words", () => {
    expect(describeWait(1)).toBe("1 second");
    expect(describeWait(45)).toBe("45 seconds");
    expect(describeWait(60)).toBe("1 minute");
    expect(describeWait(301)).toBe("6 minutes");
    expect(describeWait(3 * 3600)).toBe("3 hours");
  });
});
