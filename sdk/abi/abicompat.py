#!/usr/bin/env python3
"""abicompat.py -- classifies the difference between two ABI dumps of the SDK.

abidiff tells that an ABI changed and how, but not whether the change is one
the MaybeP2P versioning promise allows in a minor bump: members appended at
the end of a struct that carries a `size` member (the host API table, the
plugin descriptor, the sized event structs), new enumerators, new types, new
constants. Everything else (a member moved, removed, renamed or retyped, an
enumerator renumbered, a constant changed, a typedef retargeted, growth of a
struct that has no `size` member) breaks plugins already built.

Usage: abicompat.py BASE.abi CURRENT.abi BASE.constants CURRENT.constants

The .abi files are abidw XML; the .constants files are sorted
`#define MP2P_...` lines as check.sh extracts them. Prints one line per
difference and exits 0 if the two are identical, 10 if the current one only
adds, 20 if it breaks something, 1 on a bad input.
"""
import sys
import xml.etree.ElementTree as ET

SAME, ADDS, BREAKS = 0, 10, 20

# Constants that name the version itself: they change in every bump.
VERSION_CONSTANTS = {"MP2P_ABI_MAJOR", "MP2P_ABI_MINOR"}


class Dump:
    """The named types of one abidw corpus, each rendered as plain text."""

    def __init__(self, path):
        root = ET.parse(path).getroot()
        self.by_id = {}
        self.structs = {}    # name -> (size in bits, [(member, offset, type)])
        self.enums = {}      # name -> {enumerator: value}
        self.typedefs = {}   # name -> type text
        self.functions = {}  # exported name -> signature text
        for el in root.iter():
            if "id" in el.attrib:
                self.by_id[el.get("id")] = el
        for el in root.iter():
            tag = el.tag
            name = el.get("name")
            if tag in ("class-decl", "union-decl") and name and el.get("is-declaration-only") != "yes":
                members = []
                for dm in el.findall("data-member"):
                    var = dm.find("var-decl")
                    members.append((var.get("name"), int(dm.get("layout-offset-in-bits", "0")),
                                    self.text(var.get("type-id"))))
                self.structs[self.kind(el) + " " + name] = (int(el.get("size-in-bits", "0")), members)
            elif tag == "enum-decl" and name:
                self.enums[name] = {e.get("name"): int(e.get("value")) for e in el.findall("enumerator")}
            elif tag == "typedef-decl" and name:
                self.typedefs[name] = self.text(el.get("type-id"))
            elif tag == "function-decl" and name:
                self.functions[name] = self.signature(el)

    @staticmethod
    def kind(el):
        if el.tag == "union-decl":
            return "union"
        return "struct" if el.get("is-struct") == "yes" else "class"

    def signature(self, el):
        params = []
        for p in el.findall("parameter"):
            params.append("..." if p.get("is-variadic") == "yes" else self.text(p.get("type-id")))
        ret = el.find("return")
        return "(%s) -> %s" % (", ".join(params), self.text(ret.get("type-id")) if ret is not None else "void")

    def text(self, type_id, depth=0):
        """A type as C-like text. Named structs, enums and typedefs are
        referred to by name: they are compared on their own, which also keeps
        self-referencing types finite."""
        el = self.by_id.get(type_id)
        if el is None or depth > 64:
            return "?" + str(type_id)
        tag = el.tag
        if tag == "type-decl":
            return el.get("name")
        if tag in ("class-decl", "union-decl"):
            if el.get("name"):
                return self.kind(el) + " " + el.get("name")
            inner = "; ".join("%s@%s:%s" % (dm.find("var-decl").get("name"), dm.get("layout-offset-in-bits"),
                                              self.text(dm.find("var-decl").get("type-id"), depth + 1))
                              for dm in el.findall("data-member"))
            return "%s {%s}" % (self.kind(el), inner)
        if tag == "enum-decl":
            return "enum " + (el.get("name") or "?")
        if tag == "typedef-decl":
            return el.get("name")
        if tag == "pointer-type-def":
            return self.text(el.get("type-id"), depth + 1) + " *"
        if tag == "qualified-type-def":
            quals = [q for q in ("const", "volatile", "restrict") if el.get(q) == "yes"]
            return " ".join(quals + [self.text(el.get("type-id"), depth + 1)])
        if tag == "array-type-def":
            dims = "".join("[%s]" % s.get("length", "") for s in el.findall("subrange"))
            return self.text(el.get("type-id"), depth + 1) + dims
        if tag == "function-type":
            return "fn" + self.signature(el)
        return tag + "?"


def compare_structs(base, cur, out):
    for name, (size, members) in sorted(base.structs.items()):
        if name not in cur.structs:
            out.append((BREAKS, "%s: gone" % name))
            continue
        csize, cmembers = cur.structs[name]
        cby = {m[0]: m for m in cmembers}
        for mname, off, mtype in members:
            c = cby.get(mname)
            if c is None:
                out.append((BREAKS, "%s: member '%s' removed or renamed" % (name, mname)))
            elif c[1] != off:
                out.append((BREAKS, "%s: member '%s' moved from bit %d to bit %d" % (name, mname, off, c[1])))
            elif c[2] != mtype:
                out.append((BREAKS, "%s: member '%s' changed type from '%s' to '%s'" % (name, mname, mtype, c[2])))
        if csize < size:
            out.append((BREAKS, "%s: shrank from %d to %d bits" % (name, size, csize)))
        known = {m[0] for m in members}
        added = [m for m in cmembers if m[0] not in known]
        sized = any(m[0] == "size" for m in members)
        for mname, off, mtype in added:
            if off < size:
                out.append((BREAKS, "%s: member '%s' inserted at bit %d, inside the old layout" % (name, mname, off)))
            elif not sized:
                out.append((BREAKS, "%s: member '%s' appended, but the struct has no size member "
                                    "to tell old and new apart" % (name, mname)))
            else:
                out.append((ADDS, "%s: member '%s' appended at bit %d" % (name, mname, off)))
        if csize > size and not added:
            out.append((BREAKS if not sized else ADDS, "%s: grew from %d to %d bits" % (name, size, csize)))
    for name in sorted(set(cur.structs) - set(base.structs)):
        out.append((ADDS, "%s: new" % name))


def compare_enums(base, cur, out):
    for name, values in sorted(base.enums.items()):
        if name not in cur.enums:
            out.append((BREAKS, "enum %s: gone" % name))
            continue
        cvalues = cur.enums[name]
        for e, v in sorted(values.items()):
            if e not in cvalues:
                out.append((BREAKS, "enum %s: %s removed" % (name, e)))
            elif cvalues[e] != v:
                out.append((BREAKS, "enum %s: %s renumbered from %d to %d" % (name, e, v, cvalues[e])))
        for e in sorted(set(cvalues) - set(values)):
            out.append((ADDS, "enum %s: %s = %d added" % (name, e, cvalues[e])))
    for name in sorted(set(cur.enums) - set(base.enums)):
        out.append((ADDS, "enum %s: new" % name))


def compare_named(kind, base, cur, out):
    for name, text in sorted(base.items()):
        if name not in cur:
            out.append((BREAKS, "%s %s: gone" % (kind, name)))
        elif cur[name] != text:
            out.append((BREAKS, "%s %s: was '%s', now '%s'" % (kind, name, text, cur[name])))
    for name in sorted(set(cur) - set(base)):
        out.append((ADDS, "%s %s: new" % (kind, name)))


def read_constants(path):
    consts = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[0] == "#define":
                consts[parts[1]] = parts[2].strip()
    return consts


def compare_constants(base, cur, out):
    for name, value in sorted(base.items()):
        if name in VERSION_CONSTANTS:
            continue
        if name not in cur:
            out.append((BREAKS, "#define %s: gone" % name))
        elif cur[name] != value:
            out.append((BREAKS, "#define %s: was %s, now %s" % (name, value, cur[name])))
    for name in sorted(set(cur) - set(base)):
        out.append((ADDS, "#define %s %s: new" % (name, cur[name])))


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 1
    try:
        base, cur = Dump(argv[1]), Dump(argv[2])
        bconst, cconst = read_constants(argv[3]), read_constants(argv[4])
    except (OSError, ET.ParseError, ValueError, AttributeError) as e:
        sys.stderr.write("abicompat: %s\n" % e)
        return 1
    if not base.structs:
        sys.stderr.write("abicompat: %s holds no struct: not a dump of the SDK\n" % argv[1])
        return 1
    out = []
    compare_structs(base, cur, out)
    compare_enums(base, cur, out)
    compare_named("typedef", base.typedefs, cur.typedefs, out)
    compare_named("function", base.functions, cur.functions, out)
    compare_constants(bconst, cconst, out)
    for verdict, line in out:
        print("%s %s" % ("BREAKS" if verdict == BREAKS else "adds  ", line))
    return max([SAME] + [v for v, _ in out])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
