// Package consoletest drives the browser console (internal/httpapi's
// /console, sources in console/) in headless Chromium against a real
// server: SQLite store, engine, service, HTTP API and a fake provider.
// Its tests are skipped when no Chromium is installed, unless CI=true.
package consoletest
