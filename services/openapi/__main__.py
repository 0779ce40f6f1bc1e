from services.openapi.plugin import main

raise SystemExit(main())
