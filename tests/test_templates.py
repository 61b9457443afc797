"""The templates themselves: what Django's template language would print as text."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "aupsite" / "templates"


def test_it_keeps_every_short_comment_on_one_line():
    # Django's {# ... #} comment ends at its line: one that goes on to the next line is
    # not a comment at all, and the page shows it as text. Longer ones are {% comment %}.
    broken = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in TEMPLATES.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "{#" in line and "#}" not in line.split("{#", 1)[1]
    ]
    assert broken == []
