// @vitest-environment jsdom
/**
 * The queue renders the most urgent page of incidents first (1,000 open incidents stay fast) and shows
 * more on request; arrow keys move within what is shown.
 */
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import type { QueueItem } from "../lib/incidents";
import type { IncidentOps } from "../lib/useIncidentOps";
import { IncidentQueue, QUEUE_PAGE } from "./IncidentQueue";

const ops: IncidentOps = {
  busyId: null,
  error: null,
  act: async () => true,
  assign: async () => true,
  prioritise: async () => true,
  tick: async () => true,
  note: async () => true,
  clearError: () => undefined,
};

function item(index: number): QueueItem {
  return {
    id: `inc-${index}`,
    revision: 1,
    type_code: "BREAK_IN",
    category: "property",
    title: `Incident ${index}`,
    state: "new",
    priority: "high",
    source: "operator",
    site_id: null,
    camera_ids: [],
    lat: null,
    lon: null,
    owner: null,
    assignee_user: null,
    assignee_team: null,
    alarm_count: 1,
    escalation_level: 0,
    created_at: new Date(Date.UTC(2026, 0, 1, 0, index)).toISOString(),
    updated_at: new Date(Date.UTC(2026, 0, 1, 0, index)).toISOString(),
    allowed_actions: ["acknowledge"],
  };
}

afterEach(cleanup);

describe("IncidentQueue paging", () => {
  it("shows a page, then more on request, and keys stay within what is shown", { timeout: 60_000 }, () => {
    const items = Array.from({ length: QUEUE_PAGE * 2 + 7 }, (_, i) => item(i));
    render(
      <IncidentQueue items={items} loaded fresh={[]} cameraNames={new Map()} me="op" ops={ops} onOpen={() => undefined} onSeen={() => undefined} />,
    );
    expect(screen.getAllByTestId("incident-item")).toHaveLength(QUEUE_PAGE);
    expect(screen.getByText(`${items.length} open`)).toBeTruthy();
    const rows = screen.getAllByTestId("incident-item");
    rows[0]?.focus();
    fireEvent.keyDown(rows[0] as HTMLElement, { key: "End" });
    expect(document.activeElement).toBe(rows[QUEUE_PAGE - 1]);

    fireEvent.click(screen.getByTestId("queue-more"));
    expect(screen.getAllByTestId("incident-item")).toHaveLength(QUEUE_PAGE * 2);
    fireEvent.click(screen.getByTestId("queue-more"));
    expect(screen.getAllByTestId("incident-item")).toHaveLength(items.length);
    expect(screen.queryByTestId("queue-more")).toBeNull();
  });
});
