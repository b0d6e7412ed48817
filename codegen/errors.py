"""Generator errors.

DESIGN
One exception type so the command line can report every failure the same
way: "<file>: <json path>: <message>". The JSON path uses a slash notation
rooted at the file ("/attributes/foo/type").
"""


class GenError(Exception):
    """A fatal generator error tied to a file and a JSON path inside it."""

    def __init__(self, msg, file=None, path=None):
        self.msg = msg
        self.file = file
        self.path = path
        super().__init__(self.format())

    def format(self):
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.path:
            parts.append(self.path)
        parts.append(self.msg)
        return ": ".join(parts)


def jpath(*keys):
    """Build a JSON-pointer-like path from keys ("/a/b/0")."""
    out = ""
    for k in keys:
        out += "/" + str(k).replace("~", "~0").replace("/", "~1")
    return out or "/"
