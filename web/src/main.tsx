import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { AuthGate } from "./AuthGate";
import { ErrorBoundary } from "./components/ErrorBoundary";
import "./app.css";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <ErrorBoundary>
        <AuthGate />
      </ErrorBoundary>
    </StrictMode>,
  );
}
