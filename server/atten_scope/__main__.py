from atten_scope.cli import main

raise SystemExit(main())
