#!/usr/bin/env python3
"""abicompat.py -- decides whether the difference between two ABI dumps of
the SDK is one its version numbers allow.

abidiff tells that an ABI changed and how, but not whether the change is one
the MaybeP2P versioning promise allows in a minor bump: members appended at
the end of a struct that carries a `size` member (the host API table, the
plugin descriptor, the sized event structs, service tables), new
enumerators, new types, new constants. Everything else (a member moved,
removed, renamed or retyped, an enumerator renumbered, a constant changed, a
typedef retargeted, growth of a struct that has no `size` member) breaks
plugins already built, and is allowed only with a major bump.

Each public header is versioned on its own: plugin.h by MP2P_ABI_MAJOR and
MINOR, a service header by its service's MAJOR and MINOR. FAMILIES below
sorts every type and constant into the header that versions it by its
name; a new service header adds a line there.

Usage: abicompat.py BASE.abi CURRENT.abi BASE.constants CURRENT.constants

The .abi files are abidw XML; the .constants files are sorted
`#define MP2P_...` lines as check.sh extracts them. Prints each difference
and a verdict per header; exits 0 if every change is allowed by the
headers' versions, 1 if not, 2 on a bad input.
"""
import sys
import xml.etree.ElementTree as ET

SAME, ADDS, BREAKS = 0, 10, 20

# (header, name prefixes of its types and constants, its version macros,
# the macro holding the entry symbol that must carry the major, if any).
# The first family whose prefix matches a name owns it; plugin.h takes the
# rest.
FAMILIES = [
    ("classicv1.h", ("mp2p_classicv1", "MP2P_CLASSICV1_"),
     "MP2P_CLASSICV1_MAJOR", "MP2P_CLASSICV1_MINOR", None),
    ("kademlia.h", ("mp2p_kad", "MP2P_KAD"),
     "MP2P_KADEMLIA_MAJOR", "MP2P_KADEMLIA_MINOR", None),
    ("plugin.h", ("",), "MP2P_ABI_MAJOR", "MP2P_ABI_MINOR", "MP2P_PLUGIN_SYMBOL"),
]
VERSION_CONSTANTS = {f[2] for f in FAMILIES} | {f[3] for f in FAMILIES}

# The anchor functions are check.sh's own scaffolding, not the SDK's ABI.
ANCHOR_PREFIX = "mp2p_abi_anchor"


def subject_of(line):
    """The name a difference is about: every line reads "KIND NAME: ..."."""
    return line.split(":", 1)[0].split(" ")[-1]


def family_of(name):
    for fam in FAMILIES:
        if name.startswith(fam[1]):
            return fam[0]
    return FAMILIES[-1][0]


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
            elif tag == "function-decl" and name and not name.startswith(ANCHOR_PREFIX):
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
        out.append((ADDS, "#define %s: new, %s" % (name, cur[name])))


def version(consts, fam):
    try:
        return int(consts[fam[2]]), int(consts[fam[3]])
    except (KeyError, ValueError):
        return None


def judge(fam, changes, bconst, cconst):
    """The verdict on one header's changes: (allowed, text)."""
    name, _prefixes, _maj, _min, symbol_macro = fam
    worst = max([SAME] + [v for v, _ in changes])
    base, cur = version(bconst, fam), version(cconst, fam)
    if worst == SAME and base == cur:
        return True, "unchanged"
    if cur is None:
        return worst == SAME and base is None, "its version macros are gone"
    if symbol_macro is not None and cconst.get(symbol_macro) != '"mp2p_plugin_v%d"' % cur[0]:
        return False, "%s is %s but the major is %d: a host of another major would misread it" % (
            symbol_macro, cconst.get(symbol_macro), cur[0])
    if base is None:
        return True, "new header at %d.%d; add it to the baseline: sdk/abi/check.sh --update" % cur
    if cur < base:
        return False, "the version went backwards from %d.%d to %d.%d" % (base + cur)
    if cur[0] > base[0]:
        return True, "major bump %d.%d -> %d.%d allows any change; refresh the baseline (sdk/abi/README.md)" % (
            base + cur)
    if worst == BREAKS:
        return False, "incompatible change without a major bump: plugins built against %d.%d would break" % base
    if worst == ADDS and cur[1] == base[1]:
        return False, "it grew but its minor is still %d: bump it, then refresh the baseline" % cur[1]
    if worst == ADDS:
        return True, "compatible additions under %d.%d" % cur
    return True, "version %d.%d -> %d.%d with no ABI change" % (base + cur)


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    try:
        base, cur = Dump(argv[1]), Dump(argv[2])
        bconst, cconst = read_constants(argv[3]), read_constants(argv[4])
    except (OSError, ET.ParseError, ValueError, AttributeError) as e:
        sys.stderr.write("abicompat: %s\n" % e)
        return 2
    if not base.structs:
        sys.stderr.write("abicompat: %s holds no struct: not a dump of the SDK\n" % argv[1])
        return 2
    out = []
    compare_structs(base, cur, out)
    compare_enums(base, cur, out)
    compare_named("typedef", base.typedefs, cur.typedefs, out)
    compare_named("function", base.functions, cur.functions, out)
    compare_constants(bconst, cconst, out)
    if not out:
        print("no difference from the baseline")
    allowed = True
    for fam in FAMILIES:
        changes = [(v, line) for v, line in out if family_of(subject_of(line)) == fam[0]]
        ok, text = judge(fam, changes, bconst, cconst)
        if not changes and text == "unchanged":
            continue
        for v, line in changes:
            print("  %s %s" % ("BREAKS" if v == BREAKS else "adds  ", line))
        print("%s %s: %s" % ("ok  " if ok else "FAIL", fam[0], text))
        allowed = allowed and ok
    return 0 if allowed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
