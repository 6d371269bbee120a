"""The app: settings, wiring (services), sessions, block regeneration, store adapter, CLI and UI."""
