import sys

from owd.cli import main

sys.exit(main())
