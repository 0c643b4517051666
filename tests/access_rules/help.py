"""Access rules of the help pages and printable guides (web/views/help.py, issue 18).

Written by hand: help says nothing that the docs do not, so every logged-in person may read
every topic and print every guide (the index only orders topics by the reader's role);
anonymous gets the login page.  An unknown topic or guide is 404.
"""

from access_rules import EACH, LOGGED_IN, LOGIN, Rule

RULES = [
    Rule("help.index", "GET", "/help", LOGGED_IN(200)),
    Rule("help.topic", "GET", "/help/search", LOGGED_IN(200)),
    Rule("help.topic", "GET", "/help/figures", LOGGED_IN(200)),
    Rule("help.topic", "GET", "/help/recording", LOGGED_IN(200)),
    Rule("help.topic", "GET", "/help/no-such-topic", EACH(anonymous=LOGIN, default=404)),
    Rule("help.recording_guide_pdf", "GET", "/help/recording-guide.pdf", LOGGED_IN(200)),
    Rule("help.quick_guide_pdf", "GET", "/help/quick-guide-apprentice.pdf", LOGGED_IN(200)),
    Rule("help.quick_guide_pdf", "GET", "/help/quick-guide-nobody.pdf", EACH(anonymous=LOGIN, default=404)),
]
