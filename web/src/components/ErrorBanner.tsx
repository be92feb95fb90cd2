export interface ErrorBannerProps {
  errors: string[];
}

/** Readable list of current problems; the console keeps retrying in the background. */
export function ErrorBanner({ errors }: ErrorBannerProps) {
  if (errors.length === 0) return null;
  return (
    <div className="error-banner" role="alert" data-testid="error-banner">
      <strong>Something is not working.</strong>
      <ul>
        {errors.map((message) => (
          <li key={message}>{message}</li>
        ))}
      </ul>
      <span className="muted">The console retries automatically every few seconds.</span>
    </div>
  );
}
