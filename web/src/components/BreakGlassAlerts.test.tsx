// @vitest-environment jsdom
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { parseWsMessage } from "../api/ws";
import { BreakGlassAlerts } from "./BreakGlassAlerts";

const RAW = {
  type: "break_glass",
  grant_id: "grt-1",
  requester: "ivy",
  camera_ids: ["cam1", "cam2"],
  reason: "person collapsed by the loading bay",
  at: "2026-11-25T12:00:00Z",
  expires_at: "2026-11-25T12:15:00Z",
};

describe("break glass over the WebSocket", () => {
  it("parses a well-formed notice and rejects a malformed one", () => {
    expect(parseWsMessage(JSON.stringify(RAW))).toEqual(RAW);
    expect(parseWsMessage(JSON.stringify({ ...RAW, camera_ids: "cam1" }))).toBeNull();
    expect(parseWsMessage(JSON.stringify({ ...RAW, reason: 7 }))).toBeNull();
  });

  it("shows who, which cameras and why, until dismissed", () => {
    const message = parseWsMessage(JSON.stringify(RAW));
    if (message?.type !== "break_glass") throw new Error("not parsed");
    const dismiss = vi.fn();
    render(<BreakGlassAlerts alerts={[message]} onDismiss={dismiss} />);
    const alert = screen.getByTestId("break-glass-alert");
    expect(alert.textContent).toContain("ivy opened live originals of cam1, cam2");
    expect(alert.textContent).toContain("person collapsed by the loading bay");
    fireEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(dismiss).toHaveBeenCalledWith("grt-1");
  });

  it("renders nothing without alerts", () => {
    const { container } = render(<BreakGlassAlerts alerts={[]} onDismiss={() => undefined} />);
    expect(container.innerHTML).toBe("");
  });
});
