"""One module per command: parse options, call the core, build a render.Report."""
