import sys

from movies_db.cli import main

sys.exit(main())
