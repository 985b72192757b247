"""``manage.py messages``: the Spanish catalogue (``locale/es``) brought up to date with the code.

Extracts every message the project's code marks for translation (``makemessages``: Python,
templates; not the tests, the benchmark or the docs), merges them into
``locale/es/LC_MESSAGES/django.po`` and compiles the ``.mo`` Django reads (``compilemessages``).
New messages come with an empty ``msgstr``: translate them and commit the ``.po`` and the
``.mo``. Needs GNU gettext (``make messages`` installs Debian's ``gettext`` when missing);
serving the translations does not, as the compiled ``.mo`` is committed.

``tests/test_translations.py`` runs the extraction on a copy of the tree and fails if a
message has no Spanish translation.
"""

from django.core.management import BaseCommand, call_command

LANGUAGE = "es"
# What makemessages must not read (folder or file names, at any depth).
IGNORED = ["tests", "bench", "docs", "docker", "conftest.py", "node_modules", "test-results"]


class Command(BaseCommand):
    help = "Update the Spanish catalogue (locale/es) from the code and compile it."

    def add_arguments(self, parser):
        parser.add_argument("--no-compile", action="store_true", help="Only extract and merge, do not compile.")

    def handle(self, *args, no_compile=False, **options):
        call_command(
            "makemessages",
            locale=[LANGUAGE],
            no_location=True,
            no_obsolete=True,
            ignore_patterns=IGNORED,
            verbosity=options["verbosity"],
        )
        if not no_compile:
            # Hidden folders too: compilemessages would compile every catalogue in .venv.
            call_command(
                "compilemessages", locale=[LANGUAGE], ignore_patterns=[".*", *IGNORED], verbosity=options["verbosity"]
            )
