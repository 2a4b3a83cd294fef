#!/usr/bin/env python3
"""check_recipes.py <repo root> <version>: the package recipes are well formed.

Neither vcpkg nor Conan can be installed where goro's CI runs, so this checks
what can be checked without them: conanfile.py and test_package/conanfile.py
are valid Python and declare what a header-only Conan 2 recipe needs;
vcpkg.json and ports/goro/vcpkg.json are valid JSON; every version matches.
"""
import ast
import json
import os
import sys


def fail(msg):
    print("check_recipes: " + msg, file=sys.stderr)
    sys.exit(1)


def class_attrs(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    attrs, methods = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant):
                    for t in item.targets:
                        if isinstance(t, ast.Name):
                            attrs[t.id] = item.value.value
                elif isinstance(item, ast.FunctionDef):
                    methods.add(item.name)
    return attrs, methods


def main():
    root, version = sys.argv[1], sys.argv[2]

    attrs, methods = class_attrs(os.path.join(root, "conanfile.py"))
    if attrs.get("name") != "goro":
        fail("conanfile.py: name is %r, expected 'goro'" % attrs.get("name"))
    if attrs.get("version") != version:
        fail("conanfile.py: version is %r, CMakeLists.txt says %s" % (attrs.get("version"), version))
    if attrs.get("package_type") != "header-library":
        fail("conanfile.py: package_type must be 'header-library'")
    if attrs.get("no_copy_source") is not True:
        fail("conanfile.py: no_copy_source must be True")
    for m in ("package", "package_id", "package_info"):
        if m not in methods:
            fail("conanfile.py: no %s() method" % m)

    _, methods = class_attrs(os.path.join(root, "test_package", "conanfile.py"))
    if "test" not in methods:
        fail("test_package/conanfile.py: no test() method")

    for rel in ("vcpkg.json", os.path.join("ports", "goro", "vcpkg.json")):
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, ValueError) as e:
            fail("%s: %s" % (rel, e))
        if manifest.get("name") != "goro":
            fail("%s: name is %r, expected 'goro'" % (rel, manifest.get("name")))
        v = manifest.get("version", manifest.get("version-semver"))
        if v != version:
            fail("%s: version is %r, CMakeLists.txt says %s" % (rel, v, version))

    for rel in (os.path.join("ports", "goro", "portfile.cmake"), os.path.join("ports", "goro", "usage")):
        if not os.path.isfile(os.path.join(root, rel)):
            fail("%s is missing" % rel)
    print("check_recipes: conanfile.py, test_package, vcpkg.json and ports/goro agree on %s" % version)


if __name__ == "__main__":
    main()
