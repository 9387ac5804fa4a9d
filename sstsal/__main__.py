import sys

from sstsal.cli import main

sys.exit(main())
