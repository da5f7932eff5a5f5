from segsweep.cli import main

raise SystemExit(main())
