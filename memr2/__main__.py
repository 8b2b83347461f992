from memr2.cli import main

raise SystemExit(main())
