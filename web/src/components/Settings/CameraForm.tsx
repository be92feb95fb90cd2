/**
 * Add or edit one camera: identity, inputs (with "Test connection"), map position, retention override,
 * and zones / lines / privacy masks drawn on its snapshot. The server validates with the same models as
 * the YAML file; each problem is shown next to its field.
 */
import { type FormEvent, useState } from "react";

import { describeError } from "../../api/client";
import {
  type ChangeOut,
  type JsonObject,
  type ProbeOut,
  createCamera,
  errorFor,
  fieldErrors,
  probeStream,
  updateCamera,
} from "../../api/settings";
import { Field } from "./Field";
import { asList, asObject, numberValue, setInput, setKey, setPosition, text, toggleRole } from "./form";
import { ShapeEditor } from "./ShapeEditor";
import { shapesOf, withShapes } from "./shapes";

export interface CameraFormProps {
  /** The entry being edited, or a blank one for a new camera. */
  initial: JsonObject;
  isNew: boolean;
  sites: string[];
  onSaved: (change: ChangeOut) => void;
  onCancel: () => void;
}

const POSITION_FIELDS: [string, string, string][] = [
  ["lat", "Latitude", "WGS84 degrees, -90..90"],
  ["lon", "Longitude", "WGS84 degrees, -180..180"],
  ["heading_deg", "Heading", "degrees clockwise from north"],
  ["fov_deg", "Field of view", "degrees"],
];

export function CameraForm({ initial, isNew, sites, onSaved, onCancel }: CameraFormProps) {
  const [camera, setCamera] = useState<JsonObject>(initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [probes, setProbes] = useState<Record<number, ProbeOut | string>>({});
  const originalId = text(initial.id);
  const position = asObject(camera.position);
  const prefix = `cam-${isNew ? "new" : originalId}`;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      const change = isNew ? await createCamera(camera) : await updateCamera(originalId, camera);
      onSaved(change);
    } catch (err) {
      const found = fieldErrors(err);
      setErrors(found);
      setFormError(Object.keys(found).length ? "The camera was not saved: fix the fields marked below." : describeError(err));
      if (found[""]) setFormError(`The camera was not saved: ${found[""]}`);
    } finally {
      setBusy(false);
    }
  };

  const probe = async (index: number) => {
    const input = asObject(asList(camera.inputs)[index]);
    setProbes((current) => ({ ...current, [index]: "Testing…" }));
    try {
      const result = await probeStream(text(input.url), text(input.transport) || "tcp", isNew ? null : originalId);
      setProbes((current) => ({ ...current, [index]: result }));
    } catch (err) {
      setProbes((current) => ({ ...current, [index]: describeError(err) }));
    }
  };

  return (
    <form className="settings-form" onSubmit={(e) => void submit(e)} aria-labelledby={`${prefix}-title`} data-testid="camera-form" noValidate>
      <h3 id={`${prefix}-title`}>{isNew ? "Add a camera" : `Edit camera ${originalId}`}</h3>
      {formError ? (
        <p className="form-error" role="alert" data-testid="form-error">
          {formError}
        </p>
      ) : null}
      <div className="field-row">
        <Field id={`${prefix}-id`} label="Camera id" error={errors.id} hint={isNew ? "lower-case letters, digits, dashes" : "cannot change"}>
          {(props) => (
            <input {...props} value={text(camera.id)} readOnly={!isNew} onChange={(e) => setCamera(setKey(camera, "id", e.target.value))} />
          )}
        </Field>
        <Field id={`${prefix}-name`} label="Name" error={errors.name}>
          {(props) => <input {...props} value={text(camera.name)} onChange={(e) => setCamera(setKey(camera, "name", e.target.value))} />}
        </Field>
        <Field id={`${prefix}-site`} label="Site" error={errors.site}>
          {(props) => (
            <select {...props} value={text(camera.site)} onChange={(e) => setCamera(setKey(camera, "site", e.target.value))}>
              {[...new Set([text(camera.site), ...sites])].map((site) => (
                <option key={site} value={site}>
                  {site || "(choose a site)"}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="field">
          <label>
            <input
              type="checkbox"
              checked={camera.enabled !== false}
              onChange={(e) => setCamera(setKey(camera, "enabled", e.target.checked))}
            />{" "}
            Enabled (recorded and analysed)
          </label>
        </div>
      </div>

      <fieldset>
        <legend>Streams</legend>
        {errors.inputs ? <p className="field-error">{errors.inputs}</p> : null}
        {asList(camera.inputs).map((item, index) => {
          const input = asObject(item);
          const roles = asList(input.roles);
          const result = probes[index];
          return (
            <div className="input-row" key={index} data-testid={`input-${index}`}>
              <Field id={`${prefix}-url-${index}`} label={`Stream ${index + 1} URL`} error={errorFor(errors, `inputs[${index}].url`)}>
                {(props) => (
                  <input
                    {...props}
                    className="url"
                    value={text(input.url)}
                    placeholder="rtsp://user:password@host:554/stream"
                    onChange={(e) => setCamera(setInput(camera, index, "url", e.target.value))}
                  />
                )}
              </Field>
              <div className="field">
                <span className="field-label">Roles</span>
                {["record", "detect"].map((role) => (
                  <label key={role} className="small">
                    <input
                      type="checkbox"
                      checked={roles.includes(role)}
                      onChange={(e) => setCamera(toggleRole(camera, index, role, e.target.checked))}
                    />{" "}
                    {role}
                  </label>
                ))}
                {errorFor(errors, `inputs[${index}].roles`) ? (
                  <span className="field-error">{errorFor(errors, `inputs[${index}].roles`)}</span>
                ) : null}
              </div>
              <Field id={`${prefix}-transport-${index}`} label="Transport" error={errors[`inputs[${index}].transport`]}>
                {(props) => (
                  <select {...props} value={text(input.transport) || "tcp"} onChange={(e) => setCamera(setInput(camera, index, "transport", e.target.value))}>
                    <option value="tcp">TCP</option>
                    <option value="udp">UDP</option>
                  </select>
                )}
              </Field>
              <div className="field">
                <button type="button" className="btn" onClick={() => void probe(index)} data-testid={`probe-${index}`}>
                  Test connection
                </button>
                {asList(camera.inputs).length > 1 ? (
                  <button
                    type="button"
                    className="link-button small"
                    onClick={() => setCamera({ ...camera, inputs: asList(camera.inputs).filter((_, i) => i !== index) })}
                  >
                    Remove stream
                  </button>
                ) : null}
              </div>
              <p className="probe small" role="status" data-testid={`probe-result-${index}`}>
                {typeof result === "string"
                  ? result
                  : result
                    ? result.ok
                      ? `✓ Connected: ${result.detail}`
                      : `✗ Cannot open: ${result.detail}`
                    : ""}
              </p>
            </div>
          );
        })}
        {asList(camera.inputs).length < 2 ? (
          <button
            type="button"
            className="btn"
            onClick={() => setCamera({ ...camera, inputs: [...asList(camera.inputs), { url: "", roles: ["detect"], transport: "tcp" }] })}
          >
            Add a second stream (e.g. a substream for analysis)
          </button>
        ) : null}
      </fieldset>

      <fieldset>
        <legend>Map position</legend>
        <div className="field-row">
          {POSITION_FIELDS.map(([key, label, hint]) => (
            <Field key={key} id={`${prefix}-${key}`} label={label} hint={hint} error={errors[`position.${key}`]}>
              {(props) => (
                <input
                  {...props}
                  inputMode="decimal"
                  value={text(position[key])}
                  onChange={(e) => setCamera(setPosition(camera, key, numberValue(e.target.value)))}
                />
              )}
            </Field>
          ))}
          <Field id={`${prefix}-floor`} label="Floor" hint="indoor cameras: a floor id from Sites → Floor plans, e.g. ground" error={errors["position.floor"]}>
            {(props) => (
              <input {...props} value={text(position.floor)} onChange={(e) => setCamera(setPosition(camera, "floor", e.target.value || undefined))} />
            )}
          </Field>
        </div>
        {errors.position ? <p className="field-error">{errors.position}</p> : null}
      </fieldset>

      <Field id={`${prefix}-retain`} label="Retention override (days)" hint="empty: the global retention" error={errors.retain_days}>
        {(props) => (
          <input {...props} inputMode="numeric" value={text(camera.retain_days)} onChange={(e) => setCamera(setKey(camera, "retain_days", numberValue(e.target.value)))} />
        )}
      </Field>

      <ShapeEditor
        cameraId={isNew ? null : originalId}
        shapes={shapesOf(camera)}
        onChange={(shapes) => setCamera(withShapes(camera, shapes))}
        error={[errorFor(errors, "zones"), errorFor(errors, "privacy_masks"), errorFor(errors, "rules")].filter(Boolean).join("; ") || undefined}
      />

      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy} data-testid="camera-save">
          {busy ? "Saving…" : isNew ? "Add camera" : "Save camera"}
        </button>
        <button type="button" className="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
