"""``python -m un_async``: the ``un-async`` command line."""

import sys

from un_async.cli.app import main

if __name__ == "__main__":
    sys.exit(main())
