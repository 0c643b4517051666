import sys

from search.e5engine import main

sys.exit(main(sys.argv[1:]))
