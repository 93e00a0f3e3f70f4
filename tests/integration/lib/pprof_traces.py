#!/usr/bin/env python3
"""Sums the values `go tool pprof -traces` prints, by call chain.

usage: pprof_traces.py REGEX [FILE]   (FILE: the -traces output; stdin when absent)

Each trace is a value (with the unit -unit chose, e.g. 2040000001ns, 268435456B, or a bare
count) and its frames, leaf first. Prints the sum of the values of the traces whose chain,
root first and joined with ';', matches REGEX (Python re.search), as an integer.
"""
import re
import sys


def traces(text):
    """Yields (value, [frames root first]) for each trace of the output."""
    value, frames = None, []
    for line in text.splitlines():
        if line.startswith("-----------+"):
            if value is not None:
                yield value, frames[::-1]
            value, frames = None, []
            continue
        m = re.match(r"^\s*(-?[0-9.]+)[A-Za-z]*\s{3}(\S.*)$", line)
        if m and value is None:
            value, frames = float(m.group(1)), [m.group(2).strip()]
        elif value is not None and line.startswith(" " * 13) and line.strip():
            frames.append(line.strip())
    if value is not None:
        yield value, frames[::-1]


def main():
    regex = re.compile(sys.argv[1])
    text = open(sys.argv[2]).read() if len(sys.argv) > 2 else sys.stdin.read()
    print(int(round(sum(v for v, f in traces(text) if regex.search(";".join(f))))))


if __name__ == "__main__":
    main()
