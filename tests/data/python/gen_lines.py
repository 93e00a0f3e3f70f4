"""Dumps line tables with the interpreter's own answers, for test_python's decoder tests.

Output, one code object per line:
  <firstlineno> <linetable hex> <index>:<line>,<index>:<line>,...
index is in code units (2 bytes); offsets without a line are left out.
Run as: python3.X gen_lines.py MODULE_FILE... > lines_3_X.txt
"""
import sys
import types


def walk(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from walk(c)


for path in sys.argv[1:]:
    with open(path) as f:
        top = compile(f.read(), path, "exec")
    for code in walk(top):
        pairs = []
        for start, end, line in code.co_lines():
            if line is None:
                continue
            for off in range(start, end, 2):
                pairs.append("%d:%d" % (off // 2, line))
        if not pairs:
            continue
        print(code.co_firstlineno, code.co_linetable.hex() or "-", ",".join(pairs))
