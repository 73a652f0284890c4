"""``python -m callcenter.rig build|start|stop|rx CMD`` (see ``asterisk.main``)."""

from callcenter.rig.asterisk import main

raise SystemExit(main())
