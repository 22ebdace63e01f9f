import sys

from slo_assets.cli.main import main

sys.exit(main())
