// The web client entry point (being built).
