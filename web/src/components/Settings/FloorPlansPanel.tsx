/** Floor plans of the sites: upload a PNG/JPEG per floor and place it by its south-west / north-east corners. */
import { type FormEvent, useState } from "react";

import { deleteFloorPlan, uploadFloorPlan } from "../../api/floorplans";
import type { ChangeOut, JsonObject } from "../../api/settings";
import { Field } from "./Field";
import { text } from "./form";
import { useSubmit } from "./useSubmit";

interface Props {
  sites: JsonObject[];
  onSaved: (change: ChangeOut) => void;
}

const CORNERS = [
  ["south", "South edge (latitude)"],
  ["west", "West edge (longitude)"],
  ["north", "North edge (latitude)"],
  ["east", "East edge (longitude)"],
] as const;
type Corner = (typeof CORNERS)[number][0];

function floorsOf(site: JsonObject): JsonObject[] {
  const floors = site.floors;
  return Array.isArray(floors) ? floors.filter((f): f is JsonObject => typeof f === "object" && f !== null && !Array.isArray(f)) : [];
}

export function FloorPlansPanel({ sites, onSaved }: Props) {
  const [siteId, setSiteId] = useState(text(sites[0]?.id));
  const [floorId, setFloorId] = useState("");
  const [name, setName] = useState("");
  const [corners, setCorners] = useState<Record<Corner, string>>({ south: "", west: "", north: "", east: "" });
  const [file, setFile] = useState<File | null>(null);
  const { errors, setErrors, formError, setFormError, busy, run } = useSubmit(onSaved);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) {
      setFormError("Choose a PNG or JPEG image of the floor plan.");
      return;
    }
    const numbers = Object.fromEntries(CORNERS.map(([key]) => [key, Number(corners[key])])) as Record<Corner, number>;
    const blank = CORNERS.find(([key]) => corners[key].trim() === "" || !Number.isFinite(numbers[key]));
    if (blank) {
      setErrors({ [blank[0]]: "Enter a number (decimal degrees)." });
      return;
    }
    if (await run(() => uploadFloorPlan(siteId, floorId, file, { name, ...numbers }))) {
      setFloorId("");
      setName("");
      setFile(null);
    }
  };

  return (
    <section className="panel settings-section" aria-labelledby="floors-title" data-testid="settings-floor-plans">
      <h2 id="floors-title">Floor plans</h2>
      <ul className="list">
        {sites.flatMap((site) =>
          floorsOf(site).map((floor) => (
            <li key={`${text(site.id)}/${text(floor.id)}`} data-testid="settings-floor">
              {text(site.name)}: {text(floor.name)} ({text(floor.id)}){" "}
              <button
                type="button"
                className="btn"
                disabled={busy}
                onClick={() => void run(() => deleteFloorPlan(text(site.id), text(floor.id)))}
              >
                Remove {text(floor.name)}
              </button>
            </li>
          )),
        )}
      </ul>
      <form className="inline-form" onSubmit={(e) => void submit(e)} aria-labelledby="floor-add-title" noValidate>
        <h3 id="floor-add-title">Upload a floor plan</h3>
        <p className="small muted">Uploading to an existing floor id replaces its image and corners. PNG or JPEG.</p>
        {formError ? <p className="form-error" role="alert">{formError}</p> : null}
        <Field id="floor-site" label="Site" error={errors.site}>
          {(props) => (
            <select {...props} value={siteId} onChange={(e) => setSiteId(e.target.value)}>
              {sites.map((site) => (
                <option key={text(site.id)} value={text(site.id)}>
                  {text(site.name)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field id="floor-id" label="Floor id" error={errors.id} hint="e.g. ground, level-1; cameras name it as their floor">
          {(props) => <input {...props} value={floorId} onChange={(e) => setFloorId(e.target.value)} />}
        </Field>
        <Field id="floor-name" label="Floor name" error={errors.name}>
          {(props) => <input {...props} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        {CORNERS.map(([key, label]) => (
          <Field key={key} id={`floor-${key}`} label={label} error={errors[key]}>
            {(props) => (
              <input
                {...props}
                inputMode="decimal"
                value={corners[key]}
                onChange={(e) => setCorners((before) => ({ ...before, [key]: e.target.value }))}
              />
            )}
          </Field>
        ))}
        <Field id="floor-image" label="Plan image" error={errors.image}>
          {(props) => (
            <input {...props} type="file" accept="image/png,image/jpeg" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          )}
        </Field>
        <button type="submit" className="btn" disabled={busy || sites.length === 0} data-testid="floor-upload">
          Upload floor plan
        </button>
      </form>
    </section>
  );
}
