#!/usr/bin/env python3
"""check_test.py -- proves sdk/abi/check.sh accepts what a minor bump may do
and refuses what only a major bump may do.

Each case copies the public headers, edits plugin.h the way a contributor
might, and runs check.sh against the committed baseline. The headers' own
layout assertions are removed from the copies first, so that it is the ABI
check, not the compiler, that is put to the test.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get("top_srcdir") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CHECK = os.path.join(SRCDIR, "sdk", "abi", "check.sh")
HEADERS = os.path.join(SRCDIR, "sdk", "include")



def minor(text, n=1):
    """Raises MP2P_ABI_MINOR by n, whatever the baseline's minor is."""
    return re.sub(r"#define MP2P_ABI_MINOR (\d+)",
                  lambda m: "#define MP2P_ABI_MINOR %d" % (int(m.group(1)) + n), text, count=1)


def append_to(struct, added):
    """Appends a member at the end of `struct NAME { ... };`, after whatever
    member is last today."""
    def edit(text):
        start = text.index("struct %s {\n" % struct)
        end = text.index("\n};\n", start) + 1
        return text[:end] + added + text[end:]
    return edit


def major(text, n=2):
    return text.replace("#define MP2P_ABI_MAJOR 1", "#define MP2P_ABI_MAJOR %d" % n)


def after(anchor, added):
    def edit(text):
        assert anchor in text, anchor
        return text.replace(anchor, anchor + added, 1)
    return edit


def before(anchor, added):
    def edit(text):
        assert anchor in text, anchor
        return text.replace(anchor, added + anchor, 1)
    return edit


def sub(old, new):
    def edit(text):
        assert old in text, old
        return text.replace(old, new, 1)
    return edit


def chain(*edits):
    def edit(text):
        for e in edits:
            text = e(text)
        return text
    return edit


APPEND_API = append_to("mp2p_host_api", "\tint (*peers_count)(mp2p_host *h);\n")
SEND_LINE = "\tint (*send)(mp2p_host *h, mp2p_conn_id conn, const char *protocol,\n"

# (name, edit of plugin.h, expected exit status of check.sh)
CASES = [
    ("unchanged", lambda t: t, 0),
    ("append to the host API with a minor bump", chain(APPEND_API, minor), 0),
    ("append to the host API without a minor bump", APPEND_API, 1),
    ("append to the descriptor with a minor bump",
     chain(append_to("mp2p_plugin", "\tvoid (*on_idle)(void *self);\n"), minor), 0),
    ("append to a sized event struct with a minor bump",
     chain(after("\tconst char *reason;", " uint64_t bytes;"), minor), 0),
    ("new enumerator with a minor bump",
     chain(sub("MP2P_STOP_REMOVED = 3", "MP2P_STOP_REMOVED = 3,\n\tMP2P_STOP_FAILED = 4"), minor), 0),
    ("new constant with a minor bump", chain(after("#define MP2P_TYPE_LEN 4\n", "#define MP2P_ADDR_MAX 64\n"), minor), 0),
    ("insert into the host API with a minor bump",
     chain(before(SEND_LINE, "\tint (*peers_count)(mp2p_host *h);\n"), minor), 1),
    ("remove from the host API with a minor bump",
     chain(sub("\tvoid (*reply_defer)(mp2p_reply *r);\n", ""), minor), 1),
    ("retype a host API member with a minor bump",
     chain(sub("\tuint64_t (*instance_id)(mp2p_host *h);", "\tuint32_t (*instance_id)(mp2p_host *h);"), minor), 1),
    ("rename a descriptor member with a minor bump",
     chain(sub("(*on_conn)(void *self", "(*on_connection)(void *self"), minor), 1),
    ("grow the frame, which has no size member",
     chain(sub("\tconst uint8_t *payload;", "\tconst uint8_t *payload;\n\tuint32_t flags;"), minor), 1),
    ("renumber an enumerator", chain(sub("MP2P_CONN_CLOSED = 2", "MP2P_CONN_CLOSED = 3"), minor), 1),
    ("change a frame constant", chain(sub("#define MP2P_FRAME_HEADER 20", "#define MP2P_FRAME_HEADER 24"), minor), 1),
    ("change the connection id type",
     chain(sub("typedef uint64_t mp2p_conn_id;", "typedef uint32_t mp2p_conn_id;"), minor), 1),
    ("incompatible change with a major bump and a new entry symbol",
     chain(before(SEND_LINE, "\tint (*peers_count)(mp2p_host *h);\n"), major,
           sub('"mp2p_plugin_v1"', '"mp2p_plugin_v2"')), 0),
    ("major bump that keeps the old entry symbol", major, 1),
]

# Service headers carry versions of their own: (header, edit, expected).
CV1_APPEND = append_to("mp2p_classicv1_service", "\tint (*forget)(void *provider, const char *pid);\n")


def cv1_minor(text):
    return re.sub(r"#define MP2P_CLASSICV1_MINOR (\d+)",
                  lambda m: "#define MP2P_CLASSICV1_MINOR %d" % (int(m.group(1)) + 1), text, count=1)

KAD_NODE = "\tchar addr[64];"
SERVICE_CASES = [
    ("classicv1.h: append to the service table with a service minor bump",
     "classicv1.h", chain(CV1_APPEND, cv1_minor), 0),
    ("classicv1.h: append to the service table without a bump",
     "classicv1.h", CV1_APPEND, 1),
    ("classicv1.h: the plugin ABI minor does not stand in for the service's",
     "classicv1.h", CV1_APPEND, 1),
    ("classicv1.h: change a constant", "classicv1.h",
     sub("#define MP2P_CLASSICV1_ID_SIZE 17", "#define MP2P_CLASSICV1_ID_SIZE 33"), 1),
    ("kademlia.h: grow the node struct, which has no size member",
     "kademlia.h", chain(after(KAD_NODE, " uint32_t rtt;"),
                         sub("#define MP2P_KADEMLIA_MINOR 0", "#define MP2P_KADEMLIA_MINOR 1")), 1),
    ("kademlia.h: the same with a service major bump",
     "kademlia.h", chain(after(KAD_NODE, " uint32_t rtt;"),
                         sub("#define MP2P_KADEMLIA_MAJOR 1", "#define MP2P_KADEMLIA_MAJOR 2")), 0),
]


def strip_asserts(text):
    # Layout assertions span one line each in plugin.h.
    return re.sub(r"^(_Static_assert|MP2P_STATIC_ASSERT_)\(.*\);\n", "", text, flags=re.M)


def run_case(tmp, name, edit, expected, header="plugin.h", extra=None):
    inc = os.path.join(tmp, re.sub(r"\W+", "-", name))
    shutil.copytree(HEADERS, inc)
    edits = {"plugin.h": edit} if header == "plugin.h" else {"plugin.h": lambda t: t, header: edit}
    if extra:
        edits.update(extra)
    for h, e in edits.items():
        path = os.path.join(inc, "maybep2p", h)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(e(strip_asserts(text)))
    p = subprocess.run(["sh", CHECK, "-I", inc], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.returncode == 77:
        return 77
    ok = p.returncode == expected
    print("%s: %s (exit %d, expected %d)" % ("ok  " if ok else "FAIL", name, p.returncode, expected))
    if not ok:
        print(p.stdout)
    return 0 if ok else 1


def main():
    if shutil.which("abidw") is None or shutil.which("abidiff") is None:
        print("abigail-tools not installed: skipped")
        return 77
    failed = 0
    with tempfile.TemporaryDirectory(prefix="mp2p-abicheck-") as tmp:
        cases = [(name, edit, expected, "plugin.h", None) for name, edit, expected in CASES]
        with open(os.path.join(SRCDIR, "sdk", "abi", "plugin-abi.constants"), encoding="ascii") as f:
            baseline = f.read()
        for name, header, edit, expected in SERVICE_CASES:
            if not os.path.exists(os.path.join(HEADERS, "maybep2p", header)):
                print("skip: %s (no %s in this tree)" % (name, header))
                continue
            macro = {"classicv1.h": "MP2P_CLASSICV1_MAJOR", "kademlia.h": "MP2P_KADEMLIA_MAJOR"}[header]
            if macro not in baseline:
                # A header newer than the baseline is accepted as new until
                # someone runs check.sh --update; nothing to compare yet.
                print("skip: %s (the baseline predates %s)" % (name, header))
                continue
            extra = {"plugin.h": minor} if "does not stand in" in name else None
            cases.append((name, edit, expected, header, extra))
        for name, edit, expected, header, extra in cases:
            r = run_case(tmp, name, edit, expected, header, extra)
            if r == 77:
                return 77
            failed += r
    print("%d of %d cases failed" % (failed, len(cases)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
