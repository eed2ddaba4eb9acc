"""The two faces: the command line (cli/) and the menu (tui/). They ask and show; the ops act."""
