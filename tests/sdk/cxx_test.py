#!/usr/bin/env python3
"""cxx_test.py -- the public headers compile as C++ with g++ and clang++:
every header alone at C++11 and C++17 with warnings as errors, and a whole
plugin at C++20 (MP2P_PLUGIN_DEFINE's designated initializers), linked as
a shared object that exports the one entry symbol. A compiler that is not
installed is skipped, and said so."""
import os
import shutil
import subprocess
import sys
import tempfile

from mp2ptest import Check, srcdir

HEADERS = ["plugin.h", "util.h", "classicv1.h", "kademlia.h"]
WARN = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-Wno-c99-extensions"]

PLUGIN = r'''
#include <maybep2p/plugin.h>
#include <maybep2p/util.h>
#include <cstdlib>

namespace {
struct greeter { const mp2p_host_api *api; mp2p_host *host; };
}

extern "C" {
static int cxx_init(const mp2p_host_api *api, mp2p_host *host, const mp2p_config *config,
                    void **self_out, char **error_text)
{
    static const char *const known[] = { nullptr };
    if (api->config_check_keys(config, known, error_text) < 0)
        return -1;
    greeter *g = static_cast<greeter *>(std::calloc(1, sizeof(greeter)));
    if (g == nullptr)
        return mp2p_error_text(error_text, "out of memory");
    g->api = api;
    g->host = host;
    *self_out = g;
    return 0;
}

static void cxx_frame(void *self, mp2p_conn_id conn, const mp2p_frame *f)
{
    greeter *g = static_cast<greeter *>(self);
    uint8_t len[4];
    mp2p_put_be32(len, f->length);
    g->api->send_v2(g->host, conn, nullptr, "LEN_", len, sizeof(len), MP2P_SEND_NOWAIT);
}

static void cxx_drain(void *, mp2p_conn_id, size_t) {}
static void cxx_destroy(void *self) { std::free(self); }
}

static const char *const cxx_protocols[] = { "cxx", nullptr };

MP2P_PLUGIN_DEFINE = {
    MP2P_PLUGIN_HEADER,
    .name = "cxx",
    .version = "1.0.0",
    .protocols = cxx_protocols,
    .init = cxx_init,
    .on_frame = cxx_frame,
    .destroy = cxx_destroy,
    .on_drain = cxx_drain,
};
'''


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main():
    ok = Check("cxx_test")
    inc = os.path.join(srcdir, "sdk", "include")
    tmp = tempfile.mkdtemp(prefix="mp2p-cxx-")
    try:
        for cxx in ("g++", "clang++"):
            if shutil.which(cxx) is None:
                print("skip - %s is not installed" % cxx)
                continue
            warn = [w for w in WARN if cxx == "clang++" or w != "-Wno-c99-extensions"]
            for std in ("c++11", "c++17"):
                for h in HEADERS:
                    src = os.path.join(tmp, "one.cpp")
                    with open(src, "w") as f:
                        f.write("#include <maybep2p/%s>\nint main() { return 0; }\n" % h)
                    r = run([cxx, "-std=" + std, "-fsyntax-only", "-I" + inc] + warn + [src])
                    ok(r.returncode == 0, "%s -std=%s compiles <maybep2p/%s> %s" % (cxx, std, h, r.stdout.strip()))
            src = os.path.join(tmp, "plugin.cpp")
            so = os.path.join(tmp, "cxx-%s.so" % cxx)
            with open(src, "w") as f:
                f.write(PLUGIN)
            r = run([cxx, "-std=c++20", "-shared", "-fPIC", "-fvisibility=hidden", "-I" + inc] +
                    [w for w in warn if w != "-pedantic"] + ["-Wno-missing-field-initializers", "-o", so, src])
            ok(r.returncode == 0, "%s -std=c++20 builds a whole plugin %s" % (cxx, r.stdout.strip()))
            if r.returncode == 0:
                syms = run(["nm", "-D", "--defined-only", so]).stdout.split()
                ok(syms[-1:] == ["mp2p_plugin_v1"] and len(syms) == 3,
                   "%s: the plugin exports mp2p_plugin_v1 alone: %s" % (cxx, syms))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
