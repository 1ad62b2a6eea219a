"""Baseline for the loader benchmark: parse every YAML file under the given directories with
PyYAML, the way the Python prototype did (`yaml.safe_load`), and count the scenarios.

usage: python3 bench/pyyaml_load.py [--c] DIR...   (--c uses the libyaml-backed CSafeLoader)
"""
import pathlib
import sys

import yaml


def count(doc):
    if isinstance(doc, list):
        return len(doc)
    if isinstance(doc, dict):
        if isinstance(doc.get("scenarios"), list):
            return len(doc["scenarios"])
        return sum(len(v["scenarios"]) for v in doc.values() if isinstance(v, dict) and isinstance(v.get("scenarios"), list))
    return 0


def main():
    args = sys.argv[1:]
    loader = yaml.CSafeLoader if "--c" in args else yaml.SafeLoader
    dirs = [a for a in args if a != "--c"]
    files = sorted(p for d in dirs for p in pathlib.Path(d).rglob("*") if p.suffix in (".yaml", ".yml"))
    total = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            total += count(yaml.load(f, Loader=loader))
    print(f"{len(files)} files, {total} scenarios")


if __name__ == "__main__":
    main()
