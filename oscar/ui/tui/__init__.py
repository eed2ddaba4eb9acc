"""The OSCAR menu (urwid): views that show plain data, flows that call the engine."""
