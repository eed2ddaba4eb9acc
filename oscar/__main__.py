from oscar.cli import main

raise SystemExit(main())
