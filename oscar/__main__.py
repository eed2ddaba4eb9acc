from oscar.ui.cli.main import main

raise SystemExit(main())
