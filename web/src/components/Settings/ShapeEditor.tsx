/**
 * Draw zones, lines and privacy masks on a camera's snapshot: pick a tool, click points on the image
 * (an SVG over the protected, blurred snapshot), then "Finish shape". Coordinates are normalized 0..1.
 */
import { type MouseEvent, useState } from "react";

import { snapshotUrl } from "../../api/client";
import { type Point, type Shape, type Tool, isComplete, nextName, normalize } from "./shapes";

const TOOL_LABEL: Record<Tool, string> = { zone: "Zone", line: "Line", mask: "Privacy mask" };
const TOOL_HELP: Record<Tool, string> = {
  zone: "Click at least 3 points around the area, then Finish shape.",
  line: "Click the 2 ends of the line (crossings are counted).",
  mask: "Click at least 3 points around what must never be seen, then Finish shape.",
};

export interface ShapeEditorProps {
  cameraId: string | null;
  shapes: Shape[];
  onChange: (shapes: Shape[]) => void;
  /** Validation messages for the zones/masks (shown under the drawing). */
  error?: string;
}

function pointsAttr(points: Point[]): string {
  return points.map(([x, y]) => `${x},${y}`).join(" ");
}

export function ShapeEditor({ cameraId, shapes, onChange, error }: ShapeEditorProps) {
  const [tool, setTool] = useState<Tool>("zone");
  const [draft, setDraft] = useState<Point[]>([]);
  const [name, setName] = useState("");
  const [imageOk, setImageOk] = useState(true);
  const [tick] = useState(() => Date.now());

  const finish = (points: Point[] = draft) => {
    if (!isComplete(tool, points.length)) return;
    const shapeName = name.trim() || nextName(tool, shapes);
    onChange([...shapes, { kind: tool, name: shapeName, points, raw: {} }]);
    setDraft([]);
    setName("");
  };

  const onClick = (event: MouseEvent<SVGSVGElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    const point = normalize(event.clientX - box.left, event.clientY - box.top, box.width, box.height);
    const next = [...draft, point];
    if (tool === "line" && next.length === 2) finish(next);
    else setDraft(next);
  };

  return (
    <fieldset className="shape-editor" data-testid="shape-editor">
      <legend>Zones, lines and privacy masks</legend>
      <div className="shape-tools" role="group" aria-label="Drawing tool">
        {(Object.keys(TOOL_LABEL) as Tool[]).map((key) => (
          <button
            key={key}
            type="button"
            className="btn"
            aria-pressed={tool === key}
            data-testid={`tool-${key}`}
            onClick={() => {
              setTool(key);
              setDraft([]);
            }}
          >
            {TOOL_LABEL[key]}
          </button>
        ))}
        <label className="small">
          Shape name{" "}
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder={nextName(tool, shapes)} data-testid="shape-name" />
        </label>
        <button type="button" className="btn" disabled={!isComplete(tool, draft.length)} onClick={() => finish()} data-testid="shape-finish">
          Finish shape
        </button>
        <button type="button" className="btn" disabled={draft.length === 0} onClick={() => setDraft([])}>
          Clear points
        </button>
      </div>
      <p className="small muted" id="shape-help">
        {TOOL_HELP[tool]} {draft.length ? `(${draft.length} point${draft.length > 1 ? "s" : ""})` : ""}
      </p>
      <div className="shape-canvas">
        {cameraId && imageOk ? (
          <img src={snapshotUrl(cameraId, tick)} alt="" onError={() => setImageOk(false)} />
        ) : (
          <div className="shape-placeholder small muted">
            {cameraId ? "No snapshot yet (the camera is off or not streaming): draw on the blank frame." : "Save the camera to draw on its snapshot; you can draw on the blank frame now."}
          </div>
        )}
        <svg
          viewBox="0 0 1 1"
          preserveAspectRatio="none"
          data-testid="shape-canvas"
          role="img"
          aria-label={`Drawing area: ${shapes.length} shape(s) drawn`}
          aria-describedby="shape-help"
          onClick={onClick}
        >
          {shapes.map((shape, index) =>
            shape.kind === "line" ? (
              <polyline key={index} className="shape shape-line" points={pointsAttr(shape.points)} />
            ) : (
              <polygon key={index} className={`shape shape-${shape.kind}`} points={pointsAttr(shape.points)} />
            ),
          )}
          {draft.length ? <polyline className="shape shape-draft" points={pointsAttr(draft)} /> : null}
          {draft.map(([x, y], index) => (
            <circle key={index} className="shape-dot" cx={x} cy={y} r={0.008} />
          ))}
        </svg>
      </div>
      {error ? (
        <p className="field-error" role="alert">
          {error}
        </p>
      ) : null}
      <ul className="list small" data-testid="shape-list">
        {shapes.map((shape, index) => (
          <li key={`${shape.kind}-${shape.name}-${index}`}>
            {TOOL_LABEL[shape.kind]} <strong>{shape.name}</strong> ({shape.points.length} points){" "}
            <button
              type="button"
              className="link-button"
              aria-label={`Delete ${TOOL_LABEL[shape.kind].toLowerCase()} ${shape.name}`}
              onClick={() => onChange(shapes.filter((_, i) => i !== index))}
            >
              Delete
            </button>
          </li>
        ))}
        {shapes.length === 0 ? <li className="muted">Nothing drawn yet.</li> : null}
      </ul>
    </fieldset>
  );
}
