"""`python -m camhub.cli`: the same as the `camhub` command."""

from camhub.cli.main import main

raise SystemExit(main())
