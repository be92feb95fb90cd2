// @vitest-environment jsdom
// @vitest-environment-options {"url": "http://127.0.0.1:48273/"}
/**
 * The live grid in a browser without Media Source Extensions (jsdom): every tile falls back to MJPEG,
 * layouts hold 1/4/9/16 slots with pages, and a tile opens the camera alone with its recent events, read
 * from a small local HTTP server speaking the events contract.
 */
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { type Server, createServer } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import type { CameraOut } from "../api/client";
import { LiveGrid } from "./LiveGrid";

const PORT = 48273;
const requested: string[] = [];
let server: Server;

const camera = (id: string): CameraOut => ({
  id,
  name: `Camera ${id}`,
  site_id: "s",
  position: null,
  status: { state: "streaming", since: "2026-02-01T12:00:00Z", reason: "" },
});
const CAMERAS = ["a", "b", "c", "d", "e"].map(camera);

beforeAll(async () => {
  server = createServer((req, res) => {
    requested.push(req.url ?? "");
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify([
        { id: "ev-1", camera_id: "b", kind: "motion", start: "2026-02-01T12:00:00Z", end: null, score: 0.5, label: "motion" },
      ]),
    );
  });
  await new Promise<void>((resolve) => server.listen(PORT, "127.0.0.1", resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  cleanup();
  window.localStorage.clear();
});

describe("LiveGrid", () => {
  it("shows MJPEG tiles when the browser has no Media Source, four to a page", () => {
    window.localStorage.setItem("wk-grid", "4");
    render(<LiveGrid cameras={CAMERAS} focusId={null} onFocus={() => undefined} />);
    const tiles = screen.getAllByTestId("live-tile");
    expect(tiles).toHaveLength(4);
    expect(tiles.map((t) => t.dataset.transport)).toEqual(["mjpeg", "mjpeg", "mjpeg", "mjpeg"]);
    const media = screen.getAllByTestId("live-media");
    expect(media[0]?.getAttribute("src")).toBe("/api/cameras/a/live.mjpeg");
    expect(screen.getByText("page 1 of 2")).toBeTruthy();
    fireEvent.click(screen.getByText("›"));
    expect(screen.getAllByTestId("live-tile").map((t) => t.dataset.cameraId)).toEqual(["e"]);
  });

  it("switches layouts and remembers the choice", () => {
    const { container } = render(<LiveGrid cameras={CAMERAS} focusId={null} onFocus={() => undefined} />);
    fireEvent.click(screen.getByTestId("grid-9"));
    expect(screen.getAllByTestId("live-tile")).toHaveLength(5);
    expect(container.querySelectorAll(".live-empty")).toHaveLength(4); // the grid keeps its 3x3 shape
    expect(window.localStorage.getItem("wk-grid")).toBe("9");
    fireEvent.click(screen.getByTestId("grid-1"));
    expect(screen.getAllByTestId("live-tile")).toHaveLength(1);
  });

  it("opens a camera with a click and shows its recent events", async () => {
    const opened: (string | null)[] = [];
    const { rerender } = render(<LiveGrid cameras={CAMERAS} focusId={null} onFocus={(id) => opened.push(id)} />);
    fireEvent.click(screen.getByRole("button", { name: "Open Camera b" }));
    expect(opened).toEqual(["b"]);
    rerender(<LiveGrid cameras={CAMERAS} focusId="b" onFocus={(id) => opened.push(id)} />);
    expect(screen.getByTestId("live-focus").textContent).toContain("Camera b");
    await waitFor(() => expect(screen.getByTestId("live-events").textContent).toContain("motion"));
    expect(requested.some((url) => url.startsWith("/api/events?") && url.includes("camera_id=b"))).toBe(true);
    fireEvent.click(screen.getByTestId("live-back"));
    expect(opened).toEqual(["b", null]);
  });
});
