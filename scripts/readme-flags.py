#!/usr/bin/env python3
"""Writes the README's flag reference from the binary's own --help, so the two never disagree.

Usage: scripts/readme-flags.py [--check] [--podagent BIN]
  without --check: rewrites the block between <!-- flags:begin --> and <!-- flags:end --> in README.md
  with --check:    exits 1 (printing a diff) when the README's block differs from the binary's help
The help is taken with COLUMNS=100, so wrapping does not depend on the terminal.
"""
import argparse, difflib, os, subprocess, sys

COMMANDS = ["simulate", "env", "render", "watch", "run", "inspect", "install"]
BEGIN, END = "<!-- flags:begin -->", "<!-- flags:end -->"


def reference(podagent):
    env = dict(os.environ, COLUMNS="100")
    parts = ["Generated from `podagent help COMMAND` by `scripts/readme-flags.py`; a test fails when they differ.\n"]
    for command in COMMANDS:
        text = subprocess.run([podagent, "help", command], env=env, check=True, capture_output=True, text=True).stdout
        parts.append(f"### `podagent {command}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--podagent", default=".build/debug/podagent")
    args = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    path = os.path.join(root, "README.md")
    readme = open(path, encoding="utf-8").read()
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    current, wanted = readme[start:end], "\n" + reference(args.podagent) + "\n"
    if args.check:
        if current != wanted:
            sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), "README.md", "--help"))
            print("\nthe README's flag reference is out of date: run scripts/readme-flags.py", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        open(path, "w", encoding="utf-8").write(readme[:start] + wanted + readme[end:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
