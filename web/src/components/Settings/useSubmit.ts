import { useState } from "react";

import { describeError } from "../../api/client";
import { type ChangeOut, fieldErrors } from "../../api/settings";

/** One settings form's save: busy flag, errors per field and for the form, cleared on every attempt. */
export function useSubmit(onSaved: (change: ChangeOut) => void) {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<ChangeOut>): Promise<boolean> => {
    setBusy(true);
    setErrors({});
    setFormError(null);
    try {
      onSaved(await action());
      return true;
    } catch (err) {
      const found = fieldErrors(err);
      setErrors(found);
      setFormError(found[""] ?? (Object.keys(found).length ? "Not saved: fix the fields marked below." : describeError(err)));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { errors, setErrors, formError, setFormError, busy, run };
}
