/**
 * Settings: cameras, sites, retention (the configuration file, `config.manage`) and users and roles
 * (`users.manage`). Every save is written to the YAML file (validated, backed up, audited) and applied
 * live where the server can; the result is announced in a status line.
 */
import "./settings.css";

import { useCallback, useEffect, useState } from "react";

import { describeError } from "../../api/client";
import {
  type ChangeOut,
  type JsonObject,
  MANAGE_CONFIG,
  MANAGE_USERS,
  type SettingsOut,
  getSettings,
  setCameraEnabled,
} from "../../api/settings";
import { CameraForm } from "./CameraForm";
import { blankCamera, text } from "./form";
import { FloorPlansPanel } from "./FloorPlansPanel";
import { RetentionPanel, SitesPanel } from "./SitesRetention";
import { UsersPanel } from "./UsersPanel";

type Section = "cameras" | "sites" | "retention" | "users";
const SECTION_LABEL: Record<Section, string> = {
  cameras: "Cameras",
  sites: "Sites",
  retention: "Retention",
  users: "Users and roles",
};

export interface SettingsPageProps {
  permissions: string[];
  me: string | null;
  onBack: () => void;
}

function changeText(change: ChangeOut): string {
  return change.applied ? `Saved: ${change.summary}.` : `Saved: ${change.summary} (${change.detail}).`;
}

export function SettingsPage({ permissions, me, onBack }: SettingsPageProps) {
  const canConfig = permissions.includes(MANAGE_CONFIG);
  const sections = (Object.keys(SECTION_LABEL) as Section[]).filter((s) => (s === "users" ? permissions.includes(MANAGE_USERS) : canConfig));
  const [section, setSection] = useState<Section>(sections[0] ?? "cameras");
  const [settings, setSettings] = useState<SettingsOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [editing, setEditing] = useState<{ camera: JsonObject; isNew: boolean } | null>(null);
  const [version, setVersion] = useState(0);

  const reload = useCallback(() => {
    if (!canConfig) return;
    getSettings().then(
      (loaded) => {
        setSettings(loaded);
        setError(null);
        setVersion((n) => n + 1);
      },
      (err: unknown) => setError(describeError(err)),
    );
  }, [canConfig]);
  useEffect(reload, [reload]);

  const saved = (change: ChangeOut) => {
    setStatus(changeText(change));
    setEditing(null);
    reload();
  };

  const toggle = async (camera: JsonObject) => {
    const id = text(camera.id);
    try {
      saved(await setCameraEnabled(id, camera.enabled === false));
    } catch (err) {
      setStatus(`Could not change camera ${id}: ${describeError(err)}`);
    }
  };

  const sites = (settings?.sites ?? []).map((site) => text(site.id));

  return (
    <div className="settings-page" data-testid="settings-page">
      <div className="settings-head">
        <h2>Settings</h2>
        {settings ? <span className="small muted">Editing {settings.config_file} (a backup is kept on each save)</span> : null}
        <button type="button" className="btn" onClick={onBack}>
          Back to the console
        </button>
      </div>
      <nav className="settings-nav" aria-label="Settings sections">
        {sections.map((key) => (
          <button
            key={key}
            type="button"
            className="btn"
            aria-current={section === key ? "page" : undefined}
            data-testid={`settings-nav-${key}`}
            onClick={() => {
              setSection(key);
              setEditing(null);
            }}
          >
            {SECTION_LABEL[key]}
          </button>
        ))}
      </nav>
      <p className="settings-status" role="status" data-testid="settings-status">
        {status}
      </p>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {sections.length === 0 ? <p className="empty">Your roles do not allow changing settings.</p> : null}
      {section === "users" && sections.includes("users") ? <UsersPanel me={me} /> : null}
      {section !== "users" && canConfig && !settings && !error ? <p className="empty">Loading settings…</p> : null}
      {settings && section === "cameras" ? (
        <section className="panel settings-section" aria-labelledby="cameras-title" data-testid="settings-cameras">
          <div className="panel-head">
            <h2 id="cameras-title">Cameras</h2>
            <button
              type="button"
              className="btn"
              data-testid="camera-add"
              onClick={() => setEditing({ camera: blankCamera(sites[0] ?? ""), isNew: true })}
            >
              Add camera
            </button>
          </div>
          {editing ? (
            <CameraForm
              key={`${text(editing.camera.id)}-${version}`}
              initial={editing.camera}
              isNew={editing.isNew}
              sites={sites}
              onSaved={saved}
              onCancel={() => setEditing(null)}
            />
          ) : null}
          <table className="settings-table">
            <caption className="sr-only">Configured cameras</caption>
            <thead>
              <tr>
                <th scope="col">Camera</th>
                <th scope="col">Site</th>
                <th scope="col">State</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {settings.cameras.map((camera) => {
                const id = text(camera.id);
                return (
                  <tr key={id} data-testid="settings-camera-row" data-camera-id={id}>
                    <td>
                      {text(camera.name)} <span className="small muted">{id}</span>
                    </td>
                    <td>{text(camera.site)}</td>
                    <td>{camera.enabled === false ? "disabled" : "enabled"}</td>
                    <td>
                      <button type="button" className="btn" onClick={() => setEditing({ camera, isNew: false })} aria-label={`Edit camera ${id}`}>
                        Edit
                      </button>{" "}
                      <button type="button" className="btn" onClick={() => void toggle(camera)} aria-label={`${camera.enabled === false ? "Enable" : "Disable"} camera ${id}`}>
                        {camera.enabled === false ? "Enable" : "Disable"}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          {settings.cameras.length === 0 ? <p className="empty">No cameras yet: add the first one.</p> : null}
        </section>
      ) : null}
      {settings && section === "sites" ? <SitesPanel key={version} sites={settings.sites} onSaved={saved} /> : null}
      {settings && section === "sites" ? <FloorPlansPanel key={`floors-${version}`} sites={settings.sites} onSaved={saved} /> : null}
      {settings && section === "retention" ? <RetentionPanel key={version} retention={settings.retention} onSaved={saved} /> : null}
    </div>
  );
}
