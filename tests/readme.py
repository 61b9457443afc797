"""The commands README.md shows, read from its code blocks, so that the tests that run
them run what a reader copies: a README edit that breaks a command breaks its test.

A test substitutes only what differs on its machine: the server's address, the token's
secret, the interpreter (Debian's /usr/bin/python3, isolated) and where files go.
"""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
# The README's executor example: what it is run with, on the machine that has only the
# standard library. -I: no PYTHON* variables, no script folder or user site on the path;
# -S: not even the system's site-packages (Debian's dist-packages), only the stdlib.
PLAIN_PYTHON = "/usr/bin/python3 -I -S"
# The placeholders README.md writes in its executor commands.
README_URL = "http://127.0.0.1:8000"
README_TOKEN = "aup_..."

_HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$", re.MULTILINE)
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def section(title):
    """The text under the heading `title` up to the next heading of its level or above."""
    text = README.read_text(encoding="utf-8")
    headings = list(_HEADING.finditer(text))
    for index, heading in enumerate(headings):
        if heading.group(2) == title:
            level = len(heading.group(1))
            end = next((h.start() for h in headings[index + 1 :] if len(h.group(1)) <= level), len(text))
            return text[heading.end() : end]
    raise AssertionError(f"README.md has no section {title!r}")


def code_block(title, containing, language="sh"):
    """The one code block of section `title` that contains `containing`."""
    blocks = [body for lang, body in _BLOCK.findall(section(title)) if lang == language and containing in body]
    assert len(blocks) == 1, f"README.md's {title!r} should have one {language} block with {containing!r}: {blocks}"
    return blocks[0]


def command_lines(block):
    """The block's commands, one a line (comments and blank lines left out)."""
    lines = [line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else "" for line in block.splitlines()]
    return [line for line in lines if line]


def substitute(line, replacements):
    """`line` with each of `replacements` (text: new text) replaced; each must occur."""
    for old, new in replacements.items():
        assert old in line, f"{old!r} is not in README.md's command {line!r}"
        line = line.replace(old, new)
    return line


# -- the remote executor ("REST API and remote executors", step 2) -------------------------

EXECUTOR_SECTION = "REST API and remote executors"


def client_archive_command(archive):
    """The README's tar line that packs the client, writing `archive` instead."""
    [line] = command_lines(code_block(EXECUTOR_SECTION, "tar -cf"))
    return substitute(line, {"aupsite-client.tar": str(archive)})


def remote_executor_script(archive, url, export_line=None, token=None, extra_args=()):
    """The README's commands that unpack the client and run the example, as one shell
    script: the archive, the server's `url`, the interpreter (PLAIN_PYTHON) substituted,
    and the token's line either `export_line` as a page gave it or the README's with
    `token` in it. `extra_args` go at the end of the example's command."""
    lines = command_lines(code_block(EXECUTOR_SECTION, "python3 examples/remote_executor.py"))
    script = []
    for line in lines:
        if line.startswith("tar -xf"):
            line = substitute(line, {"aupsite-client.tar": str(archive)})
        elif line.startswith("export AUPSITE_TOKEN="):
            line = export_line if export_line is not None else substitute(line, {README_TOKEN: token})
        elif line.startswith("python3 "):
            line = substitute(line, {"python3 ": PLAIN_PYTHON + " ", README_URL: url})
            line = " ".join([line, *extra_args])
        else:
            raise AssertionError(f"README.md's executor block has a line the test does not know: {line!r}")
        script.append(line)
    return "set -e\n" + "\n".join(script) + "\n"
