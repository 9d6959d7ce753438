/* addr_rows.h -- the address rule (maybep2p/util.h) row by row: one table
 * that the host's tests (test_util.c) and both plugins' tests
 * (test_kademlia.c, test_classicv1.c) all walk, so the three parsers
 * cannot drift apart. A row is accepted for dialling when `ok` is set
 * and its kind is not one of the forbidden ones. */
#ifndef TESTS_ADDR_ROWS_H
#define TESTS_ADDR_ROWS_H

#include <maybep2p/util.h>

/* One row: the text, whether the rule accepts it, the canonical form it
 * formats back to (NULL: the text itself), and its kind. */
struct addr_row {
	const char *text;
	int ok;
	const char *canonical;
	enum mp2p_addr_kind kind;
};

static const struct addr_row rows[] = {
	/* IPv4, the accepted shapes */
	{ "127.0.0.1:25565", 1, NULL, MP2P_ADDR_LOOPBACK },
	{ "1.2.3.4:1", 1, NULL, MP2P_ADDR_PUBLIC },
	{ "255.254.253.252:65535", 1, NULL, MP2P_ADDR_PUBLIC },
	{ "0.0.0.0:80", 1, NULL, MP2P_ADDR_UNSPECIFIED },
	{ "0.1.2.3:80", 1, NULL, MP2P_ADDR_UNSPECIFIED },
	{ "10.0.0.1:80", 1, NULL, MP2P_ADDR_PRIVATE },
	{ "172.16.0.1:80", 1, NULL, MP2P_ADDR_PRIVATE },
	{ "172.31.255.255:80", 1, NULL, MP2P_ADDR_PRIVATE },
	{ "172.32.0.1:80", 1, NULL, MP2P_ADDR_PUBLIC },
	{ "192.168.1.1:80", 1, NULL, MP2P_ADDR_PRIVATE },
	{ "100.64.0.1:80", 1, NULL, MP2P_ADDR_PRIVATE },
	{ "100.128.0.1:80", 1, NULL, MP2P_ADDR_PUBLIC },
	{ "169.254.0.1:80", 1, NULL, MP2P_ADDR_LINK_LOCAL },
	{ "169.254.255.255:80", 1, NULL, MP2P_ADDR_LINK_LOCAL },
	{ "169.253.0.1:80", 1, NULL, MP2P_ADDR_PUBLIC },
	{ "224.0.0.1:80", 1, NULL, MP2P_ADDR_MULTICAST },
	{ "239.255.255.250:1900", 1, NULL, MP2P_ADDR_MULTICAST },
	{ "240.0.0.1:80", 1, NULL, MP2P_ADDR_PUBLIC },
	{ "255.255.255.255:80", 1, NULL, MP2P_ADDR_BROADCAST },
	/* IPv4, refused */
	{ "010.0.0.1:80", 0, NULL, 0 },
	{ "10.00.0.1:80", 0, NULL, 0 },
	{ "10.0.0.01:80", 0, NULL, 0 },
	{ "256.0.0.1:80", 0, NULL, 0 },
	{ "1.2.3:80", 0, NULL, 0 },
	{ "1.2.3.4.5:80", 0, NULL, 0 },
	{ "0x7f.0.0.1:80", 0, NULL, 0 },
	{ "2130706433:80", 0, NULL, 0 },
	{ "127.1:80", 0, NULL, 0 },
	{ " 1.2.3.4:80", 0, NULL, 0 },
	{ "1.2.3.4 :80", 0, NULL, 0 },
	{ "+1.2.3.4:80", 0, NULL, 0 },
	{ "1.2.3.4", 0, NULL, 0 },
	{ "1.2.3.4:", 0, NULL, 0 },
	{ ":80", 0, NULL, 0 },
	{ "", 0, NULL, 0 },
	{ "example.org:80", 0, NULL, 0 },
	{ "localhost:80", 0, NULL, 0 },
	/* ports */
	{ "1.2.3.4:0", 0, NULL, 0 },
	{ "1.2.3.4:00080", 0, NULL, 0 },
	{ "1.2.3.4:080", 0, NULL, 0 },
	{ "1.2.3.4:65536", 0, NULL, 0 },
	{ "1.2.3.4:100000", 0, NULL, 0 },
	{ "1.2.3.4:-1", 0, NULL, 0 },
	{ "1.2.3.4:+80", 0, NULL, 0 },
	{ "1.2.3.4:80 ", 0, NULL, 0 },
	{ "1.2.3.4:80x", 0, NULL, 0 },
	{ "1.2.3.4:0x50", 0, NULL, 0 },
	/* IPv6 */
	{ "[::1]:80", 1, NULL, MP2P_ADDR_LOOPBACK },
	{ "[0:0:0:0:0:0:0:1]:80", 1, "[::1]:80", MP2P_ADDR_LOOPBACK },
	{ "[::]:80", 1, NULL, MP2P_ADDR_UNSPECIFIED },
	{ "[0000:0000::0000]:80", 1, "[::]:80", MP2P_ADDR_UNSPECIFIED },
	{ "[2001:db8::1]:443", 1, NULL, MP2P_ADDR_PUBLIC },
	{ "[2001:DB8::1]:443", 1, "[2001:db8::1]:443", MP2P_ADDR_PUBLIC },
	{ "[fe80::1]:80", 1, NULL, MP2P_ADDR_LINK_LOCAL },
	{ "[FEBF:ffff::1]:80", 1, "[febf:ffff::1]:80", MP2P_ADDR_LINK_LOCAL },
	{ "[fec0::1]:80", 1, NULL, MP2P_ADDR_PUBLIC },
	{ "[ff02::1]:80", 1, NULL, MP2P_ADDR_MULTICAST },
	{ "[FF0E::1]:80", 1, "[ff0e::1]:80", MP2P_ADDR_MULTICAST },
	{ "[fd00::1]:80", 1, NULL, MP2P_ADDR_PRIVATE },
	/* IPv4 inside IPv6: judged as the IPv4 address it stands for */
	{ "[::ffff:169.254.1.1]:80", 1, NULL, MP2P_ADDR_LINK_LOCAL },
	{ "[::ffff:a9fe:101]:80", 1, "[::ffff:169.254.1.1]:80", MP2P_ADDR_LINK_LOCAL },
	{ "[0:0:0:0:0:FFFF:A9FE:0101]:80", 1, "[::ffff:169.254.1.1]:80", MP2P_ADDR_LINK_LOCAL },
	{ "[::ffff:0.0.0.0]:80", 1, NULL, MP2P_ADDR_UNSPECIFIED },
	{ "[::ffff:224.0.0.1]:80", 1, NULL, MP2P_ADDR_MULTICAST },
	{ "[::ffff:255.255.255.255]:80", 1, NULL, MP2P_ADDR_BROADCAST },
	{ "[::ffff:127.0.0.1]:80", 1, NULL, MP2P_ADDR_LOOPBACK },
	{ "[::ffff:0:169.254.1.1]:80", 1, "[::ffff:0:a9fe:101]:80", MP2P_ADDR_LINK_LOCAL },
	{ "[::169.254.1.1]:80", 1, NULL, MP2P_ADDR_LINK_LOCAL },
	{ "[::224.0.0.1]:80", 1, NULL, MP2P_ADDR_MULTICAST },
	{ "[64:ff9b::169.254.1.1]:80", 1, "[64:ff9b::a9fe:101]:80", MP2P_ADDR_LINK_LOCAL },
	{ "[64:ff9b::8.8.8.8]:80", 1, "[64:ff9b::808:808]:80", MP2P_ADDR_PUBLIC },
	/* IPv6, refused */
	{ "::1:80", 0, NULL, 0 },
	{ "[::1]", 0, NULL, 0 },
	{ "[::1]:", 0, NULL, 0 },
	{ "[::1]80", 0, NULL, 0 },
	{ "[::1]:0", 0, NULL, 0 },
	{ "[::1]:080", 0, NULL, 0 },
	{ "[]:80", 0, NULL, 0 },
	{ "[127.0.0.1]:80", 0, NULL, 0 },
	{ "[fe80::1%eth0]:80", 0, NULL, 0 },
	{ "[::ffff:010.0.0.1]:80", 0, NULL, 0 },
	{ "[1:2:3:4:5:6:7:8:9]:80", 0, NULL, 0 },
	{ "[::g]:80", 0, NULL, 0 },
	{ "[::1]:80]", 0, NULL, 0 },
	{ "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:80", 0, NULL, 0 },
	{ "[::1", 0, NULL, 0 },
	{ "1.2.3.4:80:80", 0, NULL, 0 },
};

/* Would a peer be dialled at this row's address? */
static inline int addr_row_dialable(const struct addr_row *r)
{
	return r->ok && r->kind != MP2P_ADDR_UNSPECIFIED && r->kind != MP2P_ADDR_LINK_LOCAL &&
	       r->kind != MP2P_ADDR_MULTICAST && r->kind != MP2P_ADDR_BROADCAST;
}

#endif /* TESTS_ADDR_ROWS_H */
